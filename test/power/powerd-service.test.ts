// powerd's pieces in-process: the service over a simulated host, the config parser against
// hostile YAML, and group resolution.
import test from 'ava';
import fc from 'fast-check';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { constantUtilisation, SimPower } from '../../src/adapters/power/sim.js';
import { ManualClock } from '../../src/domain/clock.js';
import { isVmanageError, VmanageError } from '../../src/domain/errors.js';
import { specPowerModel } from '../../src/domain/power-model.js';
import { resolveGroups } from '../../src/daemons/powerd/auth.js';
import { parseConfig } from '../../src/daemons/powerd/config.js';
import { PowerService, type Change } from '../../src/daemons/powerd/service.js';
import { tempDir } from '../support/proc.js';

const root = { sender: ':1.7', uid: 0, gids: [0] };

function service(): { svc: PowerService; sim: SimPower; changes: Change[] } {
  const sim = new SimPower({ model: specPowerModel('hp-proliant-ml110-g4', {}), clock: new ManualClock(0), utilisation: constantUtilisation(1), minKHz: 1_000_000, maxKHz: 2_000_000, epp: ['performance', 'power'] });
  const svc = new PowerService({ frequency: sim.frequency, limits: new Map([['sim', sim.limit]]), sensor: sim.sensor }, pino({ level: 'silent' }));
  const changes: Change[] = [];
  svc.on('change', (c) => changes.push(c));
  return { svc, sim, changes };
}

test('every change that took is announced with the caller, the old and the new value; refusals are not', async (t) => {
  const { svc, changes } = service();
  await svc.init();
  await svc.setFrequencyCap(root, 1_500_000);
  await svc.clearFrequencyCap(root);
  await svc.setPowerLimit(root, 'sim', 100);
  await svc.setEpp(root, 'power');
  await t.throwsAsync(svc.setFrequencyCap(root, 9_000_000), { message: /above cpuinfo_max_freq/ });
  t.deepEqual(changes.map((c) => [c.what, c.old, c.new, c.caller.uid]), [
    ['frequency-cap', '', '1500000', 0], ['frequency-cap', '1500000', '', 0], ['power-limit:sim', '', '100', 0], ['epp', 'performance', 'power', 0],
  ]);
});

test('a cap set before a restart is found again at start', async (t) => {
  const { svc, sim } = service();
  sim.capKHz = 1_200_000;
  await svc.init();
  t.is(svc.capKHz, 1_200_000);
  t.is((await svc.state()).frequency?.capKHz, 1_200_000);
});

test('mutations run one at a time in the order they were asked for, and a failed one does not block the next', async (t) => {
  const { svc, changes } = service();
  await Promise.allSettled([
    svc.setFrequencyCap(root, 1_100_000), svc.setFrequencyCap(root, 5), svc.setFrequencyCap(root, 1_300_000), svc.setPowerLimit(root, 'sim', 110),
  ]);
  t.deepEqual(changes.map((c) => c.new), ['1100000', '1300000', '110']);
  t.deepEqual(changes.map((c) => c.old), ['', '1100000', '']);
});

test('requests beyond the queue bound are refused as UNAVAILABLE instead of piling up', async (t) => {
  const sim = new SimPower({ model: specPowerModel('hp-proliant-ml110-g4'), clock: new ManualClock(0), utilisation: constantUtilisation(0.5), minKHz: 1_000_000, maxKHz: 2_000_000 });
  const svc = new PowerService({ frequency: sim.frequency, limits: new Map() }, pino({ level: 'silent' }), 8);
  const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => svc.setFrequencyCap(root, 1_000_000 + i * 1000)));
  t.is(results.filter((r) => r.status === 'fulfilled').length, 8);
  for (const r of results.filter((x) => x.status === 'rejected')) t.true(isVmanageError((r as PromiseRejectedResult).reason, 'UNAVAILABLE'));
  await svc.setFrequencyCap(root, 1_500_000); // the queue drained
  t.is(sim.capKHz, 1_500_000);
});

test('names from callers are checked before anything is touched', async (t) => {
  const { svc } = service();
  const badNames = [() => svc.setGovernor(root, 'x'.repeat(65)), () => svc.setEpp(root, 'power; reboot'), () => svc.setPowerLimit(root, '../../etc', 100), () => svc.clearPowerLimit(root, '')];
  for (const call of badNames) t.true(isVmanageError(await t.throwsAsync(call()), 'INVALID_INPUT'));
  const unknown = await t.throwsAsync(svc.setPowerLimit(root, 'dcmi', 100));
  t.true(isVmanageError(unknown, 'NOT_FOUND'));
  t.regex(unknown.message, /configured: sim/);
});

test('a host without a frequency actuator or sensor says so as UNSUPPORTED', async (t) => {
  const svc = new PowerService({ limits: new Map() }, pino({ level: 'silent' }));
  t.true(isVmanageError(await t.throwsAsync(svc.setFrequencyCap(root, 1_000_000)), 'UNSUPPORTED'));
  t.true(isVmanageError(await t.throwsAsync(svc.readPower()), 'UNSUPPORTED'));
  t.deepEqual(await svc.state(), { frequency: null, powerLimits: [], reading: null, readingError: null });
});

test('a sensor failure is reported in the state until the next good reading', async (t) => {
  const { svc, sim } = service();
  sim.sensorFailing = true;
  await t.throwsAsync(svc.readPower());
  t.regex((await svc.state()).readingError ?? '', /simulated sensor failure/);
  sim.sensorFailing = false;
  await svc.readPower();
  t.is((await svc.state()).readingError, null);
});

test('the config defaults make a production daemon: system bus, sysfs at /, root and group vmanage allowed', (t) => {
  const c = parseConfig('');
  t.like(c, { bus: 'system', sysfsRoot: '/', backend: 'sysfs', allow: { uids: [0], groups: ['vmanage'] }, readingIntervalMs: 5000 });
});

test('hostile YAML gives CONFIG_INVALID listing path: problem, never another error', (t) => {
  const yamlish = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.dictionary(fc.constantFrom('bus', 'sysfsRoot', 'backend', 'allow', 'rapl', 'sim', 'powerLimits', 'readingIntervalMs', 'x'), fc.jsonValue({ maxDepth: 3 })).map((o) => JSON.stringify(o)),
  );
  fc.assert(fc.property(yamlish, (text) => {
    try {
      parseConfig(text);
    } catch (err) {
      if (!(err instanceof VmanageError) || err.code !== 'CONFIG_INVALID') throw err;
      const problems = err.details.problems as string[];
      if (!problems.length || problems.some((p) => !/^[^:\n]+: /.test(p))) throw new Error(`badly formed problems: ${JSON.stringify(problems)}`);
    }
  }), { numRuns: 300 });
  t.pass();
});

test('allowed groups resolve by name through the group file; unknown names are reported, numbers pass through', async (t) => {
  const file = join(await tempDir(t), 'group');
  await writeFile(file, 'root:x:0:\nvmanage:x:998:mvm\nbroken line\n');
  t.deepEqual(await resolveGroups(['vmanage', 'ghosts', 42], file), { gids: [998, 42], missing: ['ghosts'] });
});
