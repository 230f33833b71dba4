// A BMC from configuration: tool selection (FreeIPMI, ipmitool fallback), config errors by
// field, and working adapters against ipmi_sim and the test Redfish service.
import test from 'ava';
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock } from '../../src/adapters/clock.js';
import { BmcConfigSchema, createBmc, resolveIpmiTool } from '../../src/adapters/power/ipmi-bmc.js';
import { isVmanageError } from '../../src/domain/errors.js';
import { startIpmiSim } from '../support/ipmisim.js';
import { tempDir } from '../support/proc.js';
import { redfishCredentials, startRedfish } from '../support/redfish.js';

test('auto picks FreeIPMI when installed, ipmitool when only it is, and fails loudly with neither', async (t) => {
  t.is(resolveIpmiTool('auto'), 'freeipmi');
  const onlyIpmitool = await tempDir(t);
  await symlink('/usr/bin/ipmitool', join(onlyIpmitool, 'ipmitool'));
  t.is(resolveIpmiTool('auto', onlyIpmitool), 'ipmitool');
  const empty = await tempDir(t);
  const err = t.throws(() => resolveIpmiTool('auto', empty));
  t.true(isVmanageError(err, 'UNSUPPORTED'));
  t.is(resolveIpmiTool('ipmitool', ''), 'ipmitool', 'an explicit choice is kept');
});

test('a bad BMC config names every bad field', (t) => {
  const r = BmcConfigSchema.safeParse({ protocol: 'ipmi', target: { kind: 'lan', host: '', username: 'admin', password: 'x'.repeat(30) }, timeoutMs: 5 });
  t.false(r.success);
  const paths = r.success ? [] : r.error.issues.map((i) => i.path.join('.'));
  t.deepEqual(paths.sort(), ['target.host', 'target.password', 'timeoutMs']);
});

test('an IPMI BMC from config reads power, caps and switches the chassis through ipmi_sim', async (t) => {
  const sim = await startIpmiSim(t, { powerWatts: 333 });
  const bmc = createBmc({ protocol: 'ipmi', target: sim.target(), sdrCacheDir: sim.sdrCacheDir, capMinWatts: 150, capMaxWatts: 700 }, { clock: systemClock });
  t.is((await bmc.sensor.read()).watts, 333);
  await bmc.cap.setLimit(500);
  t.deepEqual(await bmc.cap.state(), { source: bmc.cap.name, limitWatts: 500, minWatts: 150, maxWatts: 700 });
  t.is(await bmc.chassis?.status(), 'on');
  t.truthy(bmc.ipmi);
});

test('an IPMI BMC configured to read a watts sensor uses ipmi-sensors', async (t) => {
  const sim = await startIpmiSim(t, { psuWatts: 200 });
  const bmc = createBmc({ protocol: 'ipmi', target: sim.target(), reading: 'sensor', sensorName: 'System Power', sdrCacheDir: sim.sdrCacheDir }, { clock: systemClock });
  const r = await bmc.sensor.read();
  t.is(r.watts, 200);
  t.regex(r.source, /^ipmi-sensors:/);
});

test('a Redfish BMC from config reads power and caps', async (t) => {
  const srv = await startRedfish(t, { watts: 410 });
  const bmc = createBmc({ protocol: 'redfish', baseUrl: `${srv.url}/`, ...redfishCredentials }, { clock: systemClock });
  t.is((await bmc.sensor.read()).watts, 410);
  await bmc.cap.setLimit(390);
  t.is(srv.state.limitWatts, 390);
  t.is(bmc.chassis, undefined);
});
