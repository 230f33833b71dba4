import test from 'ava';
import fc from 'fast-check';
import { UtilWindow } from '../../src/domain/leader/demand.js';

/** The nearest-rank quantile by sorting the window: what UtilWindow.peak's one pass must equal. */
function sortedPeak(window: number[], q: number, minSamples: number): number | undefined {
  if (window.length === 0) return undefined;
  const xs = [...window].sort((a, b) => a - b);
  if (xs.length < minSamples) return xs[xs.length - 1];
  return xs[Math.min(xs.length, Math.max(1, Math.ceil(q * xs.length))) - 1];
}

test('a VM window\'s peak (one pass, no sort) is the sorted nearest-rank quantile for any samples, capacity and quantile', (t) => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 64 }),
    fc.array(fc.oneof(fc.double({ min: -0.5, max: 1.5, noNaN: true }), fc.constantFrom(0, 0.5, 1)), { maxLength: 200 }),
    fc.double({ min: 0.01, max: 1, noNaN: true }),
    fc.integer({ min: 1, max: 10 }),
    (capacity, samples, q, minSamples) => {
      const w = new UtilWindow(capacity);
      const kept: number[] = [];
      for (const x of samples) {
        w.push(x);
        kept.push(Math.min(1, Math.max(0, x)));
        if (kept.length > capacity) kept.shift();
        if (w.peak(q, minSamples) !== sortedPeak(kept, q, minSamples)) return false;
      }
      return w.size === kept.length;
    },
  ), { numRuns: 300 });
  t.pass();
});

test('a VM window ignores non-finite samples and is empty until the first sample', (t) => {
  const w = new UtilWindow(30);
  t.is(w.peak(), undefined);
  w.push(Number.NaN);
  w.push(Number.POSITIVE_INFINITY);
  t.is(w.size, 0);
  for (const x of [0.2, 0.9, 0.4]) w.push(x);
  t.is(w.peak(), 0.9); // fewer than 5 samples: the largest
  for (let i = 0; i < 30; i++) w.push(i / 100);
  t.is(w.peak(), 0.28); // 0.00..0.29: the 29th of 30 (nearest rank of 0.95)
});
