import test from 'ava';
import { constantUtilisation, SimPower, traceUtilisation } from '../../src/adapters/power/sim.js';
import { ManualClock } from '../../src/domain/clock.js';
import { isVmanageError } from '../../src/domain/errors.js';
import { specPowerModel } from '../../src/domain/power-model.js';

function plant(u = 0.5): { sim: SimPower; clock: ManualClock; load: ReturnType<typeof constantUtilisation> } {
  const clock = new ManualClock(0);
  const load = constantUtilisation(u);
  const sim = new SimPower({ model: specPowerModel('hp-proliant-ml110-g4', {}), clock, utilisation: load, minKHz: 1_000_000, maxKHz: 2_000_000, epp: ['performance', 'power'] });
  return { sim, clock, load };
}

test('the simulated sensor reads the model at the current utilisation', async (t) => {
  const { sim, load } = plant(0.5);
  t.is((await sim.sensor.read()).watts, 102);
  load.set(1);
  t.is((await sim.sensor.read()).watts, 117);
});

test('a trace drives utilisation step by step with the clock', async (t) => {
  const clock = new ManualClock(0);
  const sim = new SimPower({ model: specPowerModel('hp-proliant-ml110-g4'), clock, utilisation: traceUtilisation([0, 1], 300_000, clock) });
  t.is((await sim.sensor.read()).watts, 86);
  clock.advance(300_000);
  t.is((await sim.sensor.read()).watts, 117);
});

test('a frequency cap lowers simulated power and shows in the frequency state', async (t) => {
  const { sim } = plant(1);
  await sim.frequency.setMaxFrequency(1_000_000);
  const w = (await sim.sensor.read()).watts;
  t.true(w < 117 && w > 86, `${w}`);
  const [p] = await sim.frequency.state();
  t.is(p?.scalingMaxKHz, 1_000_000);
  t.is(p?.curKHz, 1_000_000);
});

test('simulated actuators refuse out-of-bounds requests by the same names as the hardware ones', async (t) => {
  const { sim } = plant();
  await t.throwsAsync(sim.frequency.setMaxFrequency(2_500_000), { message: /above cpuinfo_max_freq/ });
  await t.throwsAsync(sim.limit.setLimit(500), { message: /above maxWatts \(117 W\)/ });
  await t.throwsAsync(sim.limit.setLimit(50), { message: /below minWatts \(86 W\)/ });
  await t.throwsAsync(sim.frequency.setGovernor!('warp'), { message: /scaling_available_governors/ });
});

test('a power limit lowers the frequency until the modelled power fits under it', async (t) => {
  const { sim } = plant(1);
  await sim.limit.setLimit(100);
  const w = (await sim.sensor.read()).watts;
  t.true(w <= 100 && w > 99.9, `${w}`);
  t.deepEqual(await sim.limit.state(), { source: 'sim', limitWatts: 100, minWatts: 86, maxWatts: 117 });
  await sim.limit.clearLimit();
  t.is((await sim.sensor.read()).watts, 117);
});

test('a failing simulated sensor gives a typed error and its last reading turns stale with its age', async (t) => {
  const { sim, clock } = plant(0);
  await sim.sensor.read();
  sim.sensorFailing = true;
  clock.advance(2500);
  const err = await t.throwsAsync(sim.sensor.read());
  t.true(isVmanageError(err, 'POWER_SENSOR_UNAVAILABLE'));
  t.deepEqual(sim.sensor.last(), { watts: 86, timestamp: 0, source: 'sim', ageMs: 2500, stale: true });
});
