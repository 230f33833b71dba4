import test from 'ava';
import fc from 'fast-check';
import { capForWatts, judgeSensor, predictWatts, slopeWattsPerRatio } from '../../src/domain/policies/predict.js';
import { MAX_KHZ, MIN_KHZ, snapshot } from './fixtures.js';

const snap = fc.record({
  watts: fc.double({ min: 50, max: 400, noNaN: true }),
  cpuUtil: fc.double({ min: 0, max: 1, noNaN: true }),
  capKHz: fc.integer({ min: MIN_KHZ, max: MAX_KHZ }),
  model: fc.boolean(),
}).map(({ watts, cpuUtil, capKHz, model }) => {
  const s = snapshot({ watts, cpuUtil, capKHz });
  return model ? s : { ...s, powerModel: undefined };
});

test('predict: predicted power never falls when the cap rises (with or without a model)', (t) => {
  fc.assert(fc.property(snap, fc.integer({ min: MIN_KHZ, max: MAX_KHZ }), fc.integer({ min: MIN_KHZ, max: MAX_KHZ }), (s, a, b) => {
    const [lo, hi] = a <= b ? [a, b] : [b, a];
    return predictWatts(s, lo) <= predictWatts(s, hi) + 1e-9;
  }));
  t.pass();
});

test('predict: the predicted power at the current cap is the measured power', (t) => {
  fc.assert(fc.property(snap, (s) => Math.abs(predictWatts(s, s.frequency.capKHz) - s.power!.watts) < 1e-9));
  t.pass();
});

test('predict: capForWatts gives a cap inside the limits whose prediction meets the target when any can', (t) => {
  fc.assert(fc.property(snap, fc.double({ min: 0, max: 500, noNaN: true }), (s, target) => {
    const cap = capForWatts(s, target);
    if (cap < MIN_KHZ || cap > MAX_KHZ) return false;
    if (predictWatts(s, MIN_KHZ) > target) return cap === MIN_KHZ;
    return predictWatts(s, cap) <= target + 1e-9;
  }));
  t.pass();
});

test('predict: the slope used for gain scheduling is finite and positive', (t) => {
  fc.assert(fc.property(snap, (s) => {
    const k = slopeWattsPerRatio(s);
    return Number.isFinite(k) && k > 0;
  }));
  t.pass();
});

const verdicts: [string, Parameters<typeof snapshot>[0], string | true][] = [
  ['a fresh plausible reading is usable', { watts: 180 }, true],
  ['a stale reading is not', { watts: 180, stale: true }, 'stale'],
  ['an old reading is not', { watts: 180, ageMs: 5000 }, 'too-old'],
  ['a negative reading is implausible', { watts: -1 }, 'implausible'],
  ['a reading above the plausible maximum is implausible', { watts: 20_000 }, 'implausible'],
  ['NaN is implausible', { watts: Number.NaN }, 'implausible'],
];
for (const [name, over, want] of verdicts) {
  test(`judgeSensor: ${name}`, (t) => {
    const v = judgeSensor(snapshot(over), 3000, 10_000);
    t.is<string | boolean, string | boolean>(v.ok ? true : v.why, want);
  });
}
