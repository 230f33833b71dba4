// The leader's dashboard of a running demo cluster in a real browser (headless Debian Chromium via
// playwright-core): hosts, VMs and decisions appear and then update live.
import test from 'ava';
import { freePort, pidAlive } from '../support/proc.js';
import { changes, openDashboard, rows, startDemo } from './support/dashboard.js';

test('the running demo\'s dashboard shows its hosts, VMs and decisions and updates them live', async (t) => {
  t.timeout(150_000);
  const demo = await startDemo({ hosts: 3, durationS: 45, stepMs: 1500, httpPort: await freePort() });
  const { browser, page } = await openDashboard(demo.url);
  try {
    await page.locator('#hosts tbody tr').nth(2).waitFor({ timeout: 20_000 });
    t.is(await rows(page, '#hosts'), 3);
    await page.locator('#vms tbody tr').nth(5).waitFor({ timeout: 20_000 });
    t.is(await rows(page, '#vms'), 6);
    for (const h of ['host-1', 'host-2', 'host-3']) t.true((await page.locator('#hosts tbody').innerText()).includes(h), h);
    await page.locator('#decisions tbody tr').first().waitFor({ timeout: 20_000 });
    // Live: the host rows (power, cap, CPU) or the decision log change without a reload.
    await changes('the hosts table or the decision log', async () => `${await rows(page, '#decisions')}|${await page.locator('#hosts tbody').innerText()}`, 30_000);
    t.pass('the dashboard updated without a reload');
  } finally {
    await browser.close();
  }
  const summary = await demo.stop();
  for (const pid of summary.pids) t.false(pidAlive(pid), `pid ${pid} still alive`);
});
