// Saves docs/dashboard.png for the README: runs the demo cluster (4 hosts), waits until its
// dashboard shows hosts, VMs, decisions and a completed migration, and screenshots it in headless
// Chromium. Run: node --import tsx scripts/demo-screenshot.ts [OUT.png]
import { openDashboard, rows, startDemo } from '../test/demo/support/dashboard.js';

const out = process.argv[2] ?? 'docs/dashboard.png';
const demo = await startDemo({ durationS: 75 });
const { browser, page } = await openDashboard(demo.url);
try {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !demo.lines.some((l) => /now runs on/.test(l))) await new Promise((r) => setTimeout(r, 500));
  await page.waitForTimeout(4000);
  process.stderr.write(`hosts ${await rows(page, '#hosts')}, VMs ${await rows(page, '#vms')}, decisions ${await rows(page, '#decisions')}\n`);
  await page.screenshot({ path: out, fullPage: true });
  process.stderr.write(`saved ${out}\n`);
} finally {
  await browser.close();
  await demo.stop();
}
