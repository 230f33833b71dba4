// The dashboard in a real browser: headless Debian chromium (playwright-core) opens the page of a
// running leader with hosts, finds hosts, VMs, decisions and the power chart, sees a new decision
// and a power change arrive without a reload (server-sent events), shows a hostile VM name as
// text, and saves a screenshot.
import test from 'ava';
import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { loadAssets } from '../../src/daemons/leader/dashboard/serve.js';
import { tempDir, waitFor } from '../support/proc.js';
import { call, startCluster, uuidOf, type NamedHost } from '../leader-http/support.js';

const CHROMIUM = '/usr/bin/chromium';
const HOSTILE = '<img src=x id=pwn onerror="window.pwned=1">';

let browser: Browser | undefined;

test.before(async () => {
  if (!existsSync(CHROMIUM)) return;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
});
test.after.always(async () => {
  await browser?.close();
});

test('the dashboard shows hosts, VMs, decisions and the power chart, and updates live', async (t) => {
  if (!browser) return t.fail(`${CHROMIUM} is not installed (scripts/setup.sh installs it)`);
  const c = await startCluster(t, {
    hosts: { h1: [{ uuid: uuidOf(1), cpuUtil: 0.6, name: 'web-1' }, { uuid: uuidOf(2), cpuUtil: 0.2, name: HOSTILE }], h2: [{ uuid: uuidOf(3), cpuUtil: 0.1 }] },
  });
  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  t.teardown(() => page.close());
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  await page.goto(c.url + '/');

  await page.locator('#hosts tbody tr[data-host="h1"]').waitFor();
  t.is(await page.locator('#hosts tbody tr').count(), 2);
  t.regex(await page.locator('#hosts tbody tr[data-host="h1"]').innerText(), /h1\s+up\s+on\s+150 W \/ \d+ W/);
  await page.locator(`#vms tbody tr[data-vm="${uuidOf(3)}"]`).waitFor();
  t.is(await page.locator('#vms tbody tr').count(), 3);
  await page.locator('#decisions tbody tr').first().waitFor();
  await page.locator('#live.on').waitFor();

  // The hostile VM name is shown as text, never parsed as markup.
  t.is(await page.locator(`#vms tbody tr[data-vm="${uuidOf(2)}"] td`).first().innerText(), HOSTILE);
  t.is(await page.locator('#pwn').count(), 0);
  t.is(await page.evaluate('window.pwned'), undefined);

  // A migration appears with its progress, then its end, without a reload.
  const mig = await call<{ done: boolean; reason: string }>(c.url, 'POST', `/api/vms/${uuidOf(3)}/migrate`, { to: 'h1' });
  t.true(mig.body.done, mig.body.reason);
  const src = c.hosts.get('h2') as NamedHost;
  await waitFor('the migrate order', () => src.orders.length === 1);
  const order = src.orders[0] as NamedHost['orders'][number];
  await src.link.migrationStatus({ migrationId: order.migrationId, vm: uuidOf(3), to: 'h1', state: 'running', progress: 0.4, elapsedMs: 300 });
  const row = page.locator(`#migrations tbody tr[data-migration="${order.migrationId}"]`);
  await row.locator('progress').waitFor({ timeout: 10_000 });
  await page.waitForFunction(`document.querySelector('#migrations tbody tr[data-migration="${order.migrationId}"] progress')?.value === 0.4`);
  t.regex(await row.innerText(), /h2 → h1\s+running/);
  await src.link.migrationStatus({ migrationId: order.migrationId, vm: uuidOf(3), to: 'h1', state: 'succeeded', elapsedMs: 900 });
  await row.locator('.badge.succeeded').waitFor({ timeout: 10_000 });

  // A new decision appears without a reload.
  const before = await page.locator('#decisions tbody tr').count();
  const put = await call<{ decisions: { id: number }[] }>(c.url, 'PUT', '/api/budgets', { watts: 300 });
  t.true(put.body.decisions.length > 0, 'lowering the budget changes host budgets');
  const newest = Math.max(...put.body.decisions.map((d) => d.id));
  await page.locator(`#decisions tbody tr[data-decision="${newest}"]`).waitFor({ timeout: 10_000 });
  t.true(await page.locator('#decisions tbody tr').count() > before);
  t.regex(await page.locator(`#decisions tbody tr[data-decision="${newest}"]`).innerText(), /set-host-budget/);

  // A host's power change reaches the summary through the power events.
  (c.hosts.get('h1') as { state: { watts: number } }).state.watts = 260;
  await page.locator('#summary [data-k="power"] dd', { hasText: '410 W / 300 W' }).waitFor({ timeout: 10_000 });

  // The chart drew lines for measured power and the budget.
  await page.waitForFunction("document.querySelectorAll('#chart svg path').length >= 2");
  t.true(await page.locator('#chart svg').count() === 1);

  const shot = join(await tempDir(undefined, 'vmanage-dashboard-'), 'dashboard.png');
  await page.screenshot({ path: shot, fullPage: true });
  t.true(statSync(shot).size > 10_000);
  t.log(`screenshot: ${shot}`);
  t.deepEqual(problems, []);
});

test('the page and its scripts are served with a content security policy', async (t) => {
  const c = await startCluster(t);
  for (const path of ['/', '/dashboard/app.js', '/dashboard/style.css', '/dashboard/vendor/vega.min.js', '/dashboard/vendor/vega-lite.min.js']) {
    const r = await call(c.url, 'GET', path);
    t.is(r.status, 200, path);
    t.regex(String(r.headers['content-security-policy']), /script-src 'self'/, path);
    t.is(r.headers['x-content-type-options'], 'nosniff');
  }
});

test('without its files the dashboard answers 503 saying so, and the API keeps working', async (t) => {
  const empty = await tempDir(t, 'vmanage-no-dashboard-');
  const c = await startCluster(t, { http: { dashboard: { dir: empty } } });
  const page = await call(c.url, 'GET', '/');
  t.is(page.status, 503);
  t.regex(page.text, new RegExp(`dashboard assets unavailable: .*${empty}/index\\.html`));
  t.is((await call(c.url, 'GET', '/api/status')).status, 200);
});

test('the page files can live in another directory (a bundle ships them in ./dashboard beside it)', async (t) => {
  const dir = await tempDir(t, 'vmanage-dashboard-copy-');
  mkdirSync(join(dir, 'vendor'));
  for (const f of ['index.html', 'app.js', 'style.css']) copyFileSync(join('src/daemons/leader/dashboard', f), join(dir, f));
  const assets = loadAssets({ dir });
  t.is(String(assets.get('/')?.body).slice(0, 15), '<!doctype html>');
  t.true((assets.get('/dashboard/vendor/vega.min.js')?.body.length ?? 0) > 100_000);
});
