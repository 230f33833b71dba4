import test from 'ava';
import fc from 'fast-check';
import { iqr, mad, median, olsLine } from '../../src/sim/policies/stats.js';

function naiveMedian(x: number[]): number {
  const s = [...x].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

const samples = fc.array(fc.double({ min: 0, max: 2, noNaN: true }), { minLength: 1, maxLength: 30 });

test('median and MAD agree with a plain sort on any history of up to 30 samples', (t) => {
  fc.assert(fc.property(samples, (x) => {
    const m = naiveMedian(x);
    return median(x) === m && mad(x) === naiveMedian(x.map((v) => Math.abs(v - m)));
  }));
  t.pass();
});

test('the IQR of 1..12 uses the quartile positions round(0.25 (n+1)) and round(0.75 (n+1))', (t) => {
  t.is(iqr([12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]), 10 - 3);
  t.is(iqr([5]), 0);
});

test('least squares recovers a straight line exactly and predicts it one step ahead', (t) => {
  fc.assert(fc.property(fc.double({ min: -1, max: 1, noNaN: true }), fc.double({ min: -0.1, max: 0.1, noNaN: true }), (a, b) => {
    const y = Array.from({ length: 10 }, (_, i) => a + b * (i + 1));
    const [ia, ib] = olsLine(y);
    return Math.abs(ia + ib * 11 - (a + b * 11)) < 1e-9;
  }));
  t.deepEqual(olsLine([0.5, 0.5, 0.5]), [0.5, 0]);
});
