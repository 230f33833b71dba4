// The host reliability score end to end: IPMI SEL records and sensor threshold states from
// ipmi_sim, EDAC counters from a fake sysfs tree and rasdaemon's database, all through the collector.
import test from 'ava';
import { ManualClock } from '../../src/domain/clock.js';
import { execRunner } from '../../src/adapters/power/ipmi-exec.js';
import { HostReliabilityCollector } from '../../src/adapters/reliability/collector.js';
import { IpmiSelWatcher } from '../../src/adapters/reliability/ipmi-sel.js';
import { createFakeEdac } from '../support/fake-edac.js';
import { startIpmiSim, waitFor } from '../support/ipmisim.js';
import { tempDir } from '../support/proc.js';
import { join } from 'node:path';

const SENSOR_MEMORY = 0x0c;
const SENSOR_TEMP = 0x01;
const NOW_S = Math.floor(Date.UTC(2026, 10, 25, 12) / 1000);

test('IPMI SEL memory and threshold records become reliability events, each record once', async (t) => {
  const sim = await startIpmiSim(t);
  const w = new IpmiSelWatcher({ target: sim.target(), runner: execRunner(), timeoutMs: 5000, sdrCacheDir: sim.sdrCacheDir });
  const before = Date.now() - 2000;
  t.deepEqual(await w.poll(Date.now()), []);
  await sim.addSel(NOW_S, SENSOR_MEMORY, 1, 0x6f, 0x00); // correctable ECC
  await sim.addSel(NOW_S, SENSOR_MEMORY, 1, 0x6f, 0x01); // uncorrectable ECC
  await sim.addSel(NOW_S, SENSOR_TEMP, 1, 0x01, 0x59); // upper critical going high (threshold)
  const now = Date.now() + 60_000;
  const events = await w.poll(now);
  t.deepEqual(events.map((e) => e.kind), ['memory-ce', 'memory-ue', 'sel-critical']);
  // ipmi_sim stamps records with its SEL clock, set to the host's time at start: real dates, not "now".
  t.true(events.every((e) => e.at >= before && e.at <= now - 55_000), JSON.stringify(events));
  t.deepEqual(await w.poll(now), [], 'records already seen are not counted again');
});

test('a SEL that was cleared is read from the start again', async (t) => {
  const sim = await startIpmiSim(t);
  const w = new IpmiSelWatcher({ target: sim.target(), runner: execRunner(), timeoutMs: 5000, sdrCacheDir: sim.sdrCacheDir });
  const now = Date.now() + 60_000;
  for (let i = 0; i < 3; i++) await sim.addSel(NOW_S, SENSOR_MEMORY, 1, 0x6f, 0x00);
  t.is((await w.poll(now)).length, 3);
  await sim.clearSel();
  await sim.addSel(NOW_S, SENSOR_MEMORY, 1, 0x6f, 0x01); // gets a lower record ID than the cursor
  t.deepEqual((await w.poll(now)).map((e) => e.kind), ['memory-ue']);
});

test('the host score falls with errors from every source and names them, and recovers as they age', async (t) => {
  const sim = await startIpmiSim(t, { tempC: 40 });
  const edac = await createFakeEdac(t, [{ ce: 100, ue: 0 }]);
  const clock = new ManualClock(Date.now() + 60_000);
  const collector = new HostReliabilityCollector({
    edacRoot: edac.root,
    rasdaemonDb: join(await tempDir(t), 'no-rasdaemon.db'),
    ipmi: { target: sim.target(), runner: execRunner(), timeoutMs: 5000, sdrCacheDir: sim.sdrCacheDir },
  }, clock);
  const clean = await collector.poll();
  t.is(clean.score, 1);
  t.deepEqual(clean.sources, ['edac', 'ipmi-sel', 'ipmi-thresholds']);
  t.deepEqual(clean.failed, {});

  await edac.set(0, { ce: 150, ue: 0 });                  // 50 corrected errors
  await sim.addSel(NOW_S, SENSOR_MEMORY, 1, 0x6f, 0x01);  // one uncorrected, in the SEL
  await sim.setTemp(85);                                   // inlet over its critical threshold
  await waitFor('the sensor to go critical', async () => (await collector.poll()).contributions.threshold > 0, 5000, 100);
  const bad = await collector.poll();
  t.true(bad.score < 0.4, `score ${bad.score}`);
  t.is(bad.reasons[0], 'memory-ue 100.0');
  t.is(bad.contributions['memory-ce'], 50);
  t.is(bad.contributions.threshold, 50, 'one sensor past its critical threshold');
  // ipmi_sim logs the threshold crossing itself (upper non-critical and critical going high).
  t.true(bad.contributions['sel-critical'] > 49 && bad.contributions['sel-warning'] > 4.9, JSON.stringify(bad.contributions));

  await sim.setTemp(40);
  await waitFor('the sensor to cool', async () => (await collector.poll()).contributions.threshold === 0, 5000, 100);
  clock.advance(14 * 24 * 3_600_000);                      // two weeks later
  const later = await collector.poll();
  t.true(later.score > 0.75, `score ${later.score}`);
});

test('a BMC that refuses the login fails only its own sources; the others still count', async (t) => {
  const sim = await startIpmiSim(t);
  const edac = await createFakeEdac(t, [{ ce: 0, ue: 0 }]);
  const clock = new ManualClock(NOW_S * 1000);
  const collector = new HostReliabilityCollector({ edacRoot: edac.root, rasdaemonDb: null, ipmi: { target: sim.target('wrong'), runner: execRunner(), timeoutMs: 5000, sdrCacheDir: sim.sdrCacheDir } }, clock);
  await collector.poll();
  await edac.set(0, { ce: 0, ue: 1 });
  const r = await collector.poll();
  t.deepEqual(r.failed, { 'ipmi-sel': 'BMC_AUTH_FAILED', 'ipmi-thresholds': 'BMC_AUTH_FAILED' });
  t.deepEqual(r.sources, ['edac']);
  t.is(r.score, 0.5);
  t.is(collector.counters.sourceFailures, 4);
});
