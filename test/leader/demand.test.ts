import test from 'ava';
import fc from 'fast-check';
import { UtilWindow } from '../../src/domain/leader/demand.js';

test('the peak is the 95th percentile of the window once it has enough samples', (t) => {
  const w = new UtilWindow(20);
  for (let i = 1; i <= 20; i++) w.push(i / 20);
  t.is(w.peak(0.95), 0.95);
  t.is(w.last(), 1);
});

test('with few samples the peak is their maximum', (t) => {
  const w = new UtilWindow(30);
  w.push(0.2);
  w.push(0.7);
  w.push(0.1);
  t.is(w.peak(), 0.7);
});

test('old samples leave the window', (t) => {
  const w = new UtilWindow(5);
  for (const u of [1, 1, 1, 1, 1, 0.1, 0.1, 0.1, 0.1, 0.1]) w.push(u);
  t.is(w.peak(), 0.1);
  t.is(w.size, 5);
});

test('hostile samples are refused and counted, out-of-range ones clamped', (t) => {
  const w = new UtilWindow(5);
  t.false(w.push(Number.NaN));
  t.false(w.push(Number.POSITIVE_INFINITY));
  t.false(w.push('0.5' as unknown as number));
  t.true(w.push(7));
  t.true(w.push(-3));
  t.is(w.rejected, 3);
  t.is(w.peak(0.95, 1), 1);
  t.is(w.last(), 0);
});

test('an empty window has no peak', (t) => {
  t.is(new UtilWindow().peak(), undefined);
});

test('property: the peak lies within the window\'s samples and memory stays at capacity', (t) => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 50 }), fc.array(fc.double({ noNaN: false }), { maxLength: 200 }), fc.double({ min: 0.01, max: 1, noNaN: true }), (cap, xs, q) => {
    const w = new UtilWindow(cap);
    for (const x of xs) w.push(x);
    const kept = xs.filter((x) => Number.isFinite(x)).map((x) => Math.min(1, Math.max(0, x))).slice(-cap);
    const p = w.peak(q);
    if (kept.length === 0) return p === undefined;
    return w.size === kept.length && kept.includes(p as number);
  }));
  t.pass();
});
