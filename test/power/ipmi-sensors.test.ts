// IPMI sensors (FreeIPMI ipmi-sensors) against ipmi_sim, with sensor values driven from files.
import test from 'ava';
import { systemClock } from '../../src/adapters/clock.js';
import type { IpmiTool } from '../../src/adapters/power/ipmi-dcmi.js';
import { execRunner } from '../../src/adapters/power/ipmi-exec.js';
import { ipmiSensorsPowerSensor, readIpmiSensors } from '../../src/adapters/power/ipmi-sensors.js';
import { isVmanageError } from '../../src/domain/errors.js';
import { startIpmiSim, waitFor } from '../support/ipmisim.js';

for (const tool of ['freeipmi', 'ipmitool'] as IpmiTool[]) {
  test(`the power from a watts sensor through ${tool} follows the value the BMC polls`, async (t) => {
    const sim = await startIpmiSim(t, { psuWatts: 240 });
    const sensor = ipmiSensorsPowerSensor({ target: sim.target(), tool, runner: execRunner(), clock: systemClock, timeoutMs: 5000, sdrCacheDir: sim.sdrCacheDir });
    const r = await sensor.read();
    t.is(r.watts, 240);
    t.regex(r.source, tool === 'freeipmi' ? /^ipmi-sensors:127\.0\.0\.1:\d+$/ : /^ipmitool-sensor:/);
    await sim.setPsuWatts(300);
    // ipmi_sim polls the file every 200 ms
    await waitFor('the new reading', async () => (await sensor.read()).watts === 300, 5000, 100);
    t.pass();
  });

  test(`a sensor over its upper critical threshold reads through ${tool} as Critical, and back to Nominal when it cools`, async (t) => {
    const sim = await startIpmiSim(t, { tempC: 40 });
    const o = { target: sim.target(), tool, runner: execRunner(), clock: systemClock, timeoutMs: 5000, sdrCacheDir: sim.sdrCacheDir };
    const before = await readIpmiSensors(o);
    t.deepEqual(before.map((s) => [s.name, s.state]), [['Inlet Temp', 'Nominal'], ['System Power', 'Nominal']]);
    t.is(before[0]?.units, 'degrees C');
    await sim.setTemp(85);
    const hot = await waitFor('Critical', async () => (await readIpmiSensors(o)).find((s) => s.name === 'Inlet Temp' && s.state === 'Critical'), 5000, 100);
    t.is(hot.reading, 85);
    t.regex(hot.event, /Upper Critical|^cr$/);
    await sim.setTemp(40);
    await waitFor('Nominal', async () => (await readIpmiSensors(o)).find((s) => s.name === 'Inlet Temp' && s.state === 'Nominal'), 5000, 100);
  });
}

test('asking for a sensor the BMC does not have names what it has', async (t) => {
  const sim = await startIpmiSim(t);
  const sensor = ipmiSensorsPowerSensor({ target: sim.target(), runner: execRunner(), clock: systemClock, timeoutMs: 5000, sdrCacheDir: sim.sdrCacheDir, sensorName: 'PSU9 Input' });
  const err = await t.throwsAsync(sensor.read());
  t.true(isVmanageError(err, 'POWER_SENSOR_UNAVAILABLE'));
  t.regex(String(err?.message), /PSU9 Input/);
  t.is(isVmanageError(err) ? err.details.reason : undefined, 'NOT_FOUND');
});

test('the in-band driver on a host without /dev/ipmi0 is a typed error, not a crash', async (t) => {
  const sensor = ipmiSensorsPowerSensor({ target: { kind: 'inband', device: '/dev/ipmi0' }, runner: execRunner(), clock: systemClock, timeoutMs: 5000, sdrCacheDir: `/tmp/vmanage-sdr-${process.pid}` });
  const err = await t.throwsAsync(sensor.read());
  t.true(isVmanageError(err, 'POWER_SENSOR_UNAVAILABLE'), String(err));
  t.is(isVmanageError(err) ? err.details.reason : undefined, 'BMC_PROTOCOL_ERROR');
});
