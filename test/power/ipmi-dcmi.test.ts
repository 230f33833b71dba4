// DCMI power readings from a real BMC (ipmi_sim + our DCMI plug-in) through FreeIPMI and ipmitool.
import test from 'ava';
import { systemClock } from '../../src/adapters/clock.js';
import { dcmiPowerSensor, type IpmiTool } from '../../src/adapters/power/ipmi-dcmi.js';
import { execRunner, type ToolRunner } from '../../src/adapters/power/ipmi-exec.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isVmanageError } from '../../src/domain/errors.js';
import { startHostileBmc, startIpmiSim } from '../support/ipmisim.js';
import { tempDir } from '../support/proc.js';

const tools: IpmiTool[] = ['freeipmi', 'ipmitool'];

for (const tool of tools) {
  test(`a DCMI reading through ${tool} follows the watts the BMC measures`, async (t) => {
    const sim = await startIpmiSim(t, { powerWatts: 312 });
    const sensor = dcmiPowerSensor({ target: sim.target(), tool, runner: execRunner(), clock: systemClock, timeoutMs: 5000 });
    const first = await sensor.read();
    t.is(first.watts, 312);
    t.false(first.stale);
    t.is(first.ageMs, 0);
    t.regex(first.source, tool === 'freeipmi' ? /^ipmi-dcmi:127\.0\.0\.1:\d+$/ : /^ipmitool-dcmi:/);
    await sim.setPower(455);
    t.is((await sensor.read()).watts, 455);
  });
}

test('a BMC that stops answering gives POWER_SENSOR_UNAVAILABLE within the timeout and last() is the old reading marked stale', async (t) => {
  const sim = await startIpmiSim(t, { powerWatts: 200 });
  const sensor = dcmiPowerSensor({ target: sim.target(), tool: 'freeipmi', runner: execRunner(), clock: systemClock, timeoutMs: 2000 });
  const good = await sensor.read();
  sim.freeze();
  const started = Date.now();
  const err = await t.throwsAsync(sensor.read());
  const took = Date.now() - started;
  sim.thaw();
  t.true(isVmanageError(err, 'POWER_SENSOR_UNAVAILABLE'), String(err));
  t.true(took < 2000 + 1000, `failed after ${took} ms`);
  const last = sensor.last();
  t.truthy(last);
  t.true(last?.stale);
  t.is(last?.watts, 200);
  t.is(last?.timestamp, good.timestamp);
  t.true((last?.ageMs ?? -1) >= took - 50);
  t.is((await sensor.read()).watts, 200, 'reads again once the BMC recovers');
});

test('a BMC that says power measurement is not active gives POWER_SENSOR_UNAVAILABLE, not a zero reading', async (t) => {
  const sim = await startIpmiSim(t);
  await sim.setPower('absent');
  const sensor = dcmiPowerSensor({ target: sim.target(), tool: 'freeipmi', runner: execRunner(), clock: systemClock, timeoutMs: 5000 });
  const err = await t.throwsAsync(sensor.read());
  t.true(isVmanageError(err, 'POWER_SENSOR_UNAVAILABLE'));
  t.is(sensor.last(), undefined);
});

for (const tool of tools) {
  test(`a truncated DCMI answer through ${tool} is a protocol error, not a reading`, async (t) => {
    const sim = await startIpmiSim(t);
    await sim.setPower('short');
    const sensor = dcmiPowerSensor({ target: sim.target(), tool, runner: execRunner(), clock: systemClock, timeoutMs: 5000 });
    const err = await t.throwsAsync(sensor.read());
    t.true(isVmanageError(err, 'POWER_SENSOR_UNAVAILABLE'), String(err));
    // FreeIPMI checks the response length; ipmitool does not (it prints bytes past the end of
    // the response), so there the plausibility checks are what refuse the reading.
    if (tool === 'freeipmi') t.is(isVmanageError(err) ? err.details.reason : undefined, 'BMC_PROTOCOL_ERROR');
    t.is(sensor.last(), undefined);
  });

  test(`a wrong password through ${tool} is BMC_AUTH_FAILED`, async (t) => {
    const sim = await startIpmiSim(t);
    const runner = execRunner();
    const sensor = dcmiPowerSensor({ target: sim.target('wrong'), tool, runner, clock: systemClock, timeoutMs: 5000 });
    const err = await t.throwsAsync(sensor.read());
    t.true(isVmanageError(err, 'BMC_AUTH_FAILED'), String(err));
    t.false(String(err?.message).includes('wrong'), 'the password is not in the message');
    t.is(runner.counters.authFailures, 1);
  });
}

test('the BMC password never appears on a tool command line (FreeIPMI config file, ipmitool environment)', async (t) => {
  const sim = await startIpmiSim(t, { powerWatts: 275 });
  const conf = join(await tempDir(t), 'freeipmi.conf');
  await writeFile(conf, 'username admin\npassword secret\n', { mode: 0o600 });
  const seen: string[][] = [];
  const real = execRunner();
  const spy: ToolRunner = { run: (cmd, args, o) => { seen.push([cmd, ...args]); return real.run(cmd, args, o); } };
  const target = { ...sim.target(), freeipmiConfigFile: conf };
  for (const tool of tools) {
    t.is((await dcmiPowerSensor({ target, tool, runner: spy, clock: systemClock, timeoutMs: 5000 }).read()).watts, 275);
  }
  t.is(seen.length, 2);
  t.false(seen.flat().includes('secret'), JSON.stringify(seen));
});

for (const tool of tools) {
  test(`a BMC that answers random bytes gives ${tool} readings POWER_SENSOR_UNAVAILABLE within the timeout`, async (t) => {
    const bmc = await startHostileBmc(t, 'garbage');
    const target = { kind: 'lan' as const, host: '127.0.0.1', port: bmc.port, username: 'admin', password: 'secret', cipherSuite: 3, workarounds: ['opensesspriv'] };
    const sensor = dcmiPowerSensor({ target, tool, runner: execRunner(), clock: systemClock, timeoutMs: 1500 });
    const started = Date.now();
    const err = await t.throwsAsync(sensor.read());
    t.true(isVmanageError(err, 'POWER_SENSOR_UNAVAILABLE'), String(err));
    t.true(Date.now() - started < 1500 + 1000);
    t.true(bmc.packets() > 0);
  });
}
