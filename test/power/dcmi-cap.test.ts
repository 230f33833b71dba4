// DCMI node power caps against a real BMC (ipmi_sim + our DCMI plug-in): set, activate, read
// back; refusals by the platform range and by the BMC; clearing.
import test from 'ava';
import { systemClock } from '../../src/adapters/clock.js';
import { DcmiPowerLimit, type IpmiTool } from '../../src/adapters/power/ipmi-dcmi.js';
import { execRunner } from '../../src/adapters/power/ipmi-exec.js';
import { isVmanageError } from '../../src/domain/errors.js';
import { startIpmiSim, startHostileBmc } from '../support/ipmisim.js';

for (const tool of ['freeipmi', 'ipmitool'] as IpmiTool[]) {
  test(`a DCMI cap set through ${tool} is active in the BMC and reads back, and clearing deactivates it`, async (t) => {
    const sim = await startIpmiSim(t, { limitMin: 100, limitMax: 800 });
    const cap = new DcmiPowerLimit({ target: sim.target(), tool, runner: execRunner(), clock: systemClock, timeoutMs: 5000 });
    t.is((await cap.state()).limitWatts, null, 'no limit before the first set');
    await cap.setLimit(420);
    t.deepEqual(await sim.limitFile(), [420, true]);
    t.is((await cap.state()).limitWatts, 420);
    await cap.clearLimit();
    t.deepEqual(await sim.limitFile(), [420, false]);
    t.is((await cap.state()).limitWatts, null);
  });
}

for (const tool of ['freeipmi', 'ipmitool'] as IpmiTool[]) {
  test(`a cap outside the BMC range is POWER_CAP_REJECTED through ${tool} and the previous cap stays`, async (t) => {
    const sim = await startIpmiSim(t, { limitMin: 100, limitMax: 800 });
    const cap = new DcmiPowerLimit({ target: sim.target(), tool, runner: execRunner(), clock: systemClock, timeoutMs: 5000 });
    await cap.setLimit(300);
    const err = await t.throwsAsync(cap.setLimit(900));
    t.true(isVmanageError(err, 'POWER_CAP_REJECTED'), String(err));
    t.is((await cap.state()).limitWatts, 300);
    t.deepEqual(await sim.limitFile(), [300, true]);
  });
}

test('a cap outside the configured platform range is refused by name before the BMC sees it', async (t) => {
  const runner = execRunner();
  const cap = new DcmiPowerLimit({ target: { kind: 'lan', host: '127.0.0.1', port: 9, username: 'a', password: 'b', cipherSuite: 3, workarounds: [] }, tool: 'freeipmi', runner, clock: systemClock, timeoutMs: 1000, minWatts: 150, maxWatts: 600 });
  const low = await t.throwsAsync(cap.setLimit(149));
  t.true(isVmanageError(low, 'OUT_OF_BOUNDS'));
  t.is(isVmanageError(low) ? low.details.limit : undefined, 'minWatts');
  const high = await t.throwsAsync(cap.setLimit(601.5));
  t.true(isVmanageError(high, 'OUT_OF_BOUNDS'));
  t.is(runner.counters.calls, 0);
});

test('a BMC that never answers is TIMEOUT through ipmitool too, even when ipmitool gives up first (not a refused login)', async (t) => {
  const bmc = await startHostileBmc(t, 'silent');
  const cap = new DcmiPowerLimit({ target: { kind: 'lan', host: '127.0.0.1', port: bmc.port, username: 'admin', password: 'secret', cipherSuite: 3, workarounds: [] }, tool: 'ipmitool', runner: execRunner(), clock: systemClock, timeoutMs: 8000 });
  const started = Date.now();
  const err = await t.throwsAsync(cap.state());
  t.true(isVmanageError(err, 'TIMEOUT'), String(err));
  t.true(Date.now() - started < 8000);
});

test('a BMC that never answers fails a cap change with TIMEOUT within the deadline', async (t) => {
  const bmc = await startHostileBmc(t, 'silent');
  const cap = new DcmiPowerLimit({ target: { kind: 'lan', host: '127.0.0.1', port: bmc.port, username: 'admin', password: 'secret', cipherSuite: 3, workarounds: ['opensesspriv'] }, tool: 'freeipmi', runner: execRunner(), clock: systemClock, timeoutMs: 1000 });
  const started = Date.now();
  const err = await t.throwsAsync(cap.setLimit(300));
  t.true(isVmanageError(err, 'TIMEOUT'), String(err));
  t.true(Date.now() - started < 2000);
  t.true(bmc.packets() > 0, 'the tool did talk to the BMC');
});
