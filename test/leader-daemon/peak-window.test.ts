import test from 'ava';
import fc from 'fast-check';
import { UtilWindow } from '../../src/domain/leader/demand.js';
import { PeakWindow } from '../../src/daemons/leader/hosts.js';

test('the leader\'s VM window gives the domain window\'s peak for any samples, capacity and quantile', (t) => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 64 }),
    fc.array(fc.oneof(fc.double({ min: -0.5, max: 1.5, noNaN: true }), fc.constantFrom(0, 0.5, 1)), { maxLength: 200 }),
    fc.double({ min: 0.01, max: 1, noNaN: true }),
    fc.integer({ min: 1, max: 10 }),
    (capacity, samples, q, minSamples) => {
      const ours = new PeakWindow(capacity);
      const domain = new UtilWindow(capacity);
      for (const x of samples) {
        ours.push(x);
        domain.push(x);
        if (ours.peak(q, minSamples) !== domain.peak(q, minSamples)) return false;
      }
      return ours.size === domain.size;
    },
  ), { numRuns: 300 });
  t.pass();
});

test('the leader\'s VM window ignores non-finite samples and is empty until the first sample', (t) => {
  const w = new PeakWindow(30);
  t.is(w.peak(), undefined);
  w.push(Number.NaN);
  w.push(Number.POSITIVE_INFINITY);
  t.is(w.size, 0);
  for (const x of [0.2, 0.9, 0.4]) w.push(x);
  t.is(w.peak(), 0.9); // fewer than 5 samples: the largest
  for (let i = 0; i < 30; i++) w.push(i / 100);
  t.is(w.peak(), 0.28); // 0.00..0.29: the 29th of 30 (nearest rank of 0.95)
});
