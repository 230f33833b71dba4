// Runs the demo cluster in this process (real leader and host daemons as child processes) and
// opens its dashboard in headless Debian Chromium through playwright-core: shared by the browser
// test and scripts/demo-screenshot.ts.
import { chromium, type Browser, type Page } from 'playwright-core';
import { DEMO_DEFAULTS, runDemo, type DemoOptions } from '../../../src/demo/run.js';
import type { DemoSummary } from '../../../src/demo/summary.js';

export interface RunningDemo {
  readonly url: string;
  readonly lines: string[];
  readonly done: Promise<DemoSummary>;
  /** Ends the demo now (every daemon stopped by PID); resolves with its summary. */
  stop(): Promise<DemoSummary>;
}

/** Starts the demo and resolves once the dashboard URL is known and every host daemon is up. */
export async function startDemo(o: Partial<DemoOptions>, timeoutMs = 90_000): Promise<RunningDemo> {
  const lines: string[] = [];
  let url: string | undefined;
  let up = false;
  let wake: () => void = () => {};
  const ac = new AbortController();
  const done = runDemo({ ...DEMO_DEFAULTS, ...o, signal: ac.signal }, (l) => {
    lines.push(l);
    url ??= /dashboard: (http:\/\/\S+)/.exec(l)?.[1];
    if (/host daemons up/.test(l)) up = true;
    wake();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo not up in ${timeoutMs} ms:\n${lines.join('\n')}`)), timeoutMs);
    wake = () => { if (url && up) { clearTimeout(timer); resolve(); } };
    done.then(() => { clearTimeout(timer); reject(new Error(`demo ended before it was up:\n${lines.join('\n')}`)); }, reject);
  });
  return { url: url as string, lines, done, stop: () => { ac.abort(); return done; } };
}

export async function openDashboard(url: string): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'], headless: true });
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await page.goto(url, { waitUntil: 'load' });
  return { browser, page };
}

/** Polls until fn's value differs from its first one (a live update), or times out. */
export async function changes(what: string, fn: () => Promise<string>, timeoutMs: number): Promise<void> {
  const first = await fn();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    if ((await fn()) !== first) return;
  }
  throw new Error(`${what} did not change within ${timeoutMs} ms`);
}

/** Rows in a dashboard table's body (#hosts, #vms, #decisions, #migrations). */
export async function rows(page: Page, table: string): Promise<number> {
  return await page.locator(`${table} tbody tr`).count();
}
