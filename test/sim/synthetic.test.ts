import test from 'ava';
import { parseSyntheticSpec, syntheticWorkload } from '../../src/sim/synthetic.js';
import { isVmanageError } from '../../src/domain/errors.js';

test('the synthetic workload is deterministic for a seed and different across seeds', (t) => {
  const a = syntheticWorkload({ vms: 20, intervals: 288, seed: 7 });
  const b = syntheticWorkload({ vms: 20, intervals: 288, seed: 7 });
  const c = syntheticWorkload({ vms: 20, intervals: 288, seed: 8 });
  t.deepEqual(a.utilisation, b.utilisation);
  t.notDeepEqual(a.utilisation, c.utilisation);
});

test('synthetic utilisation stays in [0, 0.99] and averages like a PlanetLab day (5-25 %)', (t) => {
  const w = syntheticWorkload({ vms: 500, intervals: 288, seed: 1 });
  let sum = 0;
  for (const s of w.utilisation) for (const u of s) { t.true(u >= 0 && u <= 0.99); sum += u; }
  const mean = sum / (500 * 288);
  t.true(mean > 0.05 && mean < 0.25, `mean ${mean}`);
});

test('workload specs read synthetic, synthetic:N and synthetic:N:SEED and refuse bad counts', (t) => {
  t.is(parseSyntheticSpec('trace.csv'), undefined);
  t.is(parseSyntheticSpec('synthetic')?.vms, 1000);
  t.deepEqual(parseSyntheticSpec('synthetic:40:3'), { vms: 40, intervals: 288, seed: 3 });
  const err = t.throws(() => parseSyntheticSpec('synthetic:0'));
  t.true(isVmanageError(err, 'INVALID_INPUT'));
});
