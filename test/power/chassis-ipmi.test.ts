// IPMI chassis power on/off/status against ipmi_sim, whose chassis-control script keeps the
// "hardware" power state in a file.
import test from 'ava';
import { systemClock } from '../../src/adapters/clock.js';
import { IpmiChassis } from '../../src/adapters/power/chassis-ipmi.js';
import type { IpmiTool } from '../../src/adapters/power/ipmi-dcmi.js';
import { execRunner } from '../../src/adapters/power/ipmi-exec.js';
import { isVmanageError } from '../../src/domain/errors.js';
import { startHostileBmc, startIpmiSim } from '../support/ipmisim.js';

for (const tool of ['freeipmi', 'ipmitool'] as IpmiTool[]) {
  test(`chassis power off and on through ${tool} switch the host and status follows`, async (t) => {
    const sim = await startIpmiSim(t);
    const chassis = new IpmiChassis({ target: sim.target(), tool, runner: execRunner(), clock: systemClock, timeoutMs: 5000, pollMs: 50 });
    t.is(await chassis.status(), 'on');
    await chassis.powerOff();
    t.is(await sim.chassisFile(), '0');
    t.is(await chassis.status(), 'off');
    await chassis.powerOn();
    t.is(await sim.chassisFile(), '1');
    t.is(await chassis.status(), 'on');
  });
}

test('chassis status from a BMC that answers garbage is a typed error within the timeout', async (t) => {
  const bmc = await startHostileBmc(t, 'garbage');
  const chassis = new IpmiChassis({ target: { kind: 'lan', host: '127.0.0.1', port: bmc.port, username: 'admin', password: 'secret', cipherSuite: 3, workarounds: ['opensesspriv'] }, tool: 'freeipmi', runner: execRunner(), clock: systemClock, timeoutMs: 1500 });
  const started = Date.now();
  const err = await t.throwsAsync(chassis.status());
  t.true(isVmanageError(err, 'BMC_PROTOCOL_ERROR') || isVmanageError(err, 'TIMEOUT'), String(err));
  t.true(Date.now() - started < 2500);
  t.true(bmc.packets() > 0);
});
