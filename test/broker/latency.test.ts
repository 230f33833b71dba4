// The broker's latency windows: bounded memory, exact quantiles over the recent samples, and
// the broker's account of a violation's path (trigger -> first decision handed to the actuator,
// and the actuator call) on a monotonic clock the test drives.
import test from 'ava';
import fc from 'fast-check';
import { LatencyWindow } from '../../src/broker/index.js';
import { harness, power, settle } from './harness.js';

test('latency window: quantiles over the window; old samples leave it; garbage is ignored', (t) => {
  const w = new LatencyWindow(4);
  t.is(w.quantile(0.5), undefined, 'empty');
  for (const ms of [10, 1, 2, 3, Number.NaN, -1, Number.POSITIVE_INFINITY]) w.record(ms);
  t.is(w.count, 4);
  t.is(w.quantile(0), 1);
  t.is(w.quantile(0.99), 10);
  for (const ms of [4, 5, 6, 7]) w.record(ms);
  t.is(w.quantile(0), 4, 'only the last 4 samples count');
  t.is(w.quantile(1), 7);
  t.is(w.count, 8);
});

test('latency window (property): the quantile is a recorded sample and never exceeds the window max', (t) => {
  fc.assert(fc.property(fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 300 }), fc.double({ min: 0, max: 1, noNaN: true }), (xs, q) => {
    const w = new LatencyWindow(64);
    for (const x of xs) w.record(x);
    const recent = xs.slice(-64);
    const v = w.quantile(q)!;
    return recent.includes(v) && v <= Math.max(...recent);
  }));
  t.pass();
});

test('broker latency: a violation is timed from requestCycle to the cap decision, and the cap call by itself', async (t) => {
  let now = 0;
  const h = harness({ policies: [{ name: 'sla-dvfs' }], monotonicMs: () => now, backend: { name: 'slow', apply: async () => { now += 3; } } });
  h.builder.setVms([{ uuid: 'a', vcpus: 2, cpuUtil: 0.5 }]);
  h.builder.setLeaderBudget(400);
  h.bus.emit('power-reading', power(150, h.clock.now()));
  now = 100;
  h.bus.emit('sla-report', { vm: 'a', report: { status: 'violated', slack: -0.2 } });
  await settle();
  t.is(h.done.at(-1)?.kind, 'set-frequency-cap');
  t.is(h.broker.latency.triggerToApply.count, 1);
  t.is(h.broker.latency.triggerToApply.quantile(0.5), 0, 'nothing ran between the report and the decision on this clock');
  t.is(h.broker.latency.apply.get('set-frequency-cap')?.quantile(0.5), 3, 'the backend call took 3 ms');
  await h.broker.cycle();
  t.is(h.broker.latency.triggerToApply.count, 1, 'a periodic cycle is not a triggered one');
});
