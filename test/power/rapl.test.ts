import test from 'ava';
import fc from 'fast-check';
import { readlink, stat } from 'node:fs/promises';
import { energyDelta, RaplPowerLimit, RaplSensor } from '../../src/adapters/power/rapl.js';
import { systemClock } from '../../src/adapters/clock.js';
import { ManualClock } from '../../src/domain/clock.js';
import { isVmanageError } from '../../src/domain/errors.js';
import { makeFakeSysfs, raplPackage } from '../support/fakesysfs.js';

const PKG0 = 'sys/class/powercap/intel-rapl:0';

test('the fake powercap tree has the kernel class links and modes', async (t) => {
  const fake = await makeFakeSysfs(t, { rapl: [raplPackage(0)] });
  t.is(await readlink(fake.path(PKG0)), '../../devices/virtual/powercap/intel-rapl/intel-rapl:0');
  t.is(await readlink(fake.path('sys/class/powercap/intel-rapl:0:1')), '../../devices/virtual/powercap/intel-rapl/intel-rapl:0/intel-rapl:0:1');
  t.is(await fake.read(`${PKG0}/name`), 'package-0\n');
  t.is(await fake.read(`${PKG0}/intel-rapl:0:0/name`), 'core\n');
  t.is((await stat(fake.path(`${PKG0}/energy_uj`))).mode & 0o777, 0o400);
  t.is((await stat(fake.path(`${PKG0}/constraint_0_power_limit_uw`))).mode & 0o777, 0o644);
});

test('power is the energy difference over the time between two samples, summed over packages', async (t) => {
  const fake = await makeFakeSysfs(t, { rapl: [raplPackage(0), raplPackage(1)] });
  const clock = new ManualClock(1_000_000);
  const sensor = new RaplSensor({ root: fake.root, clock });
  await sensor.prime();
  await fake.setEnergy(0, 1_000_000 + 60_000_000); // 60 J
  await fake.setEnergy(1, 1_000_000 + 40_000_000); // 40 J
  clock.advance(1000);
  const r = await sensor.read();
  t.is(r.watts, 100);
  t.is(r.source, 'rapl:package-0+package-1');
  t.is(r.timestamp, 1_001_000);
  t.false(r.stale);
});

test('a counter that wrapped past max_energy_range_uj still gives the right power', async (t) => {
  const range = 262_143_328_850;
  const fake = await makeFakeSysfs(t, { rapl: [raplPackage(0, { energyUj: range - 10_000_000 })] });
  const clock = new ManualClock(0);
  const sensor = new RaplSensor({ root: fake.root, clock });
  await sensor.prime();
  await fake.setEnergy(0, 15_000_000); // 10 J to the wrap + 15 J after it
  clock.advance(500);
  t.is((await sensor.read()).watts, 50);
});

test('energy deltas are never negative for any pair of counter values', (t) => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 2 ** 40 }), fc.nat(), fc.nat(), (range, a, b) => {
    const e1 = a % (range + 1);
    const e2 = b % (range + 1);
    const d = energyDelta(e1, e2, range);
    return d >= 0 && d <= range;
  }));
  t.pass();
});

test('reads closer together than minIntervalMs return the last reading with its age, not a new one', async (t) => {
  const fake = await makeFakeSysfs(t, { rapl: [raplPackage(0)] });
  const clock = new ManualClock(0);
  const sensor = new RaplSensor({ root: fake.root, clock, minIntervalMs: 10 });
  await sensor.prime();
  await fake.setEnergy(0, 1_000_000 + 5_000_000);
  clock.advance(100);
  t.is((await sensor.read()).watts, 50);
  await fake.setEnergy(0, 1_000_000 + 50_000_000);
  clock.advance(4);
  t.deepEqual(await sensor.read(), { watts: 50, timestamp: 100, source: 'rapl:package-0', ageMs: 4, stale: false });
  clock.advance(6);
  t.is((await sensor.read()).watts, 4500); // 45 J over 10 ms
});

test('a first read with no baseline samples twice, sampleMs apart', async (t) => {
  const fake = await makeFakeSysfs(t, { rapl: [raplPackage(0)] });
  const sensor = new RaplSensor({ root: fake.root, clock: systemClock, sampleMs: 20 });
  const r = await sensor.read();
  t.is(r.watts, 0); // the fake counter did not move
});

test('a sensor whose counter turns to garbage fails with POWER_SENSOR_UNAVAILABLE and marks its last reading stale', async (t) => {
  const fake = await makeFakeSysfs(t, { rapl: [raplPackage(0)] });
  const clock = new ManualClock(0);
  const sensor = new RaplSensor({ root: fake.root, clock });
  await sensor.prime();
  clock.advance(1000);
  await sensor.read();
  for (const junk of ['-5', 'NaN', '999999999999999999', '12 13', '']) {
    await fake.setEnergy(0, junk as unknown as number);
    clock.advance(1000);
    const err = await t.throwsAsync(sensor.read());
    t.true(isVmanageError(err, 'POWER_SENSOR_UNAVAILABLE'), junk);
  }
  t.deepEqual(sensor.last(), { watts: 0, timestamp: 1000, source: 'rapl:package-0', ageMs: 5000, stale: true });
  t.true(sensor.counters.malformed >= 4);
});

test('a host without RAPL gives a typed error', async (t) => {
  const fake = await makeFakeSysfs(t, {});
  const err = await t.throwsAsync(new RaplSensor({ root: fake.root, clock: new ManualClock() }).read());
  t.true(isVmanageError(err, 'POWER_SENSOR_UNAVAILABLE'));
});

test('a RAPL limit is split over packages, enabled, read back, and cleared to the TDP', async (t) => {
  const fake = await makeFakeSysfs(t, { rapl: [raplPackage(0, { enabled: false }), raplPackage(1, { enabled: false })] });
  const limit = new RaplPowerLimit({ root: fake.root });
  t.deepEqual(await limit.state(), { source: 'rapl', limitWatts: null, minWatts: 20, maxWatts: 250 });
  await limit.setLimit(180);
  t.is(await fake.read(`${PKG0}/constraint_0_power_limit_uw`), '90000000\n');
  t.is(await fake.read('sys/class/powercap/intel-rapl:1/enabled'), '1\n');
  t.is((await limit.state()).limitWatts, 180);
  await limit.clearLimit();
  t.is(await fake.read(`${PKG0}/constraint_0_power_limit_uw`), '125000000\n');
  t.is((await limit.state()).limitWatts, null);
});

const limitRefusals: [string, number, RegExp][] = [
  ['above constraint_0_max_power_uw', 300, /300 W is above constraint_0_max_power_uw \(250 W\)/],
  ['below the minimum package limit', 5, /below minimum package limit/],
];
for (const [what, watts, message] of limitRefusals) {
  test(`a RAPL limit ${what} is refused naming the limit`, async (t) => {
    const fake = await makeFakeSysfs(t, { rapl: [raplPackage(0), raplPackage(1)] });
    const err = await t.throwsAsync(new RaplPowerLimit({ root: fake.root }).setLimit(watts));
    t.true(isVmanageError(err, 'OUT_OF_BOUNDS'));
    t.regex(err.message, message);
  });
}

test('a package whose constraint_0 is not the long-term limit is refused as UNSUPPORTED', async (t) => {
  const fake = await makeFakeSysfs(t, { rapl: [raplPackage(0)] });
  await fake.set(`${PKG0}/constraint_0_name`, 'peak_power');
  const err = await t.throwsAsync(new RaplPowerLimit({ root: fake.root }).setLimit(100));
  t.true(isVmanageError(err, 'UNSUPPORTED'));
  t.regex(err.message, /constraint_0_name is "peak_power"/);
});
