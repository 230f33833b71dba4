// The damped budget split the leader uses (hysteresisFraction, budgets.ts LEADER_HYSTERESIS_FRACTION)
// and the event hub that does no work with nobody listening.
import { EventEmitter } from 'node:events';
import test from 'ava';
import fc from 'fast-check';
import { splitBudget, type BudgetConsumer } from '../../src/domain/leader/budget-split.js';
import { LEADER_HYSTERESIS_FRACTION } from '../../src/daemons/leader/budgets.js';
import type { LeaderApi } from '../../src/daemons/leader/api.js';
import { SseHub } from '../../src/daemons/leader/http-sse.js';

const p = { marginFraction: 0, marginWatts: 0, hysteresisWatts: 5 };
const host = (id: string, demandWatts: number): BudgetConsumer => ({ id, floorWatts: 50, capWatts: 400, demandWatts });

test('the leader damps by a tenth of a budget unless configured otherwise', (t) => {
  t.is(LEADER_HYSTERESIS_FRACTION, 0.1);
});

// One host and a total above its cap: the split gives it its cap, so `cap` is the undamped budget.
const cases: { name: string; fraction: number | undefined; prev: number; demand: number; cap: number; expect: number }[] = [
  { name: 'a move within a tenth of the budget keeps it (fraction 0.1)', fraction: 0.1, prev: 200, demand: 150, cap: 215, expect: 200 },
  { name: 'the same move takes the new budget without a fraction', fraction: undefined, prev: 200, demand: 150, cap: 215, expect: 215 },
  { name: 'a move beyond a tenth of the budget takes the new one', fraction: 0.1, prev: 200, demand: 150, cap: 230, expect: 230 },
  { name: 'a fall beyond a tenth of the budget takes the new one', fraction: 0.1, prev: 200, demand: 150, cap: 170, expect: 170 },
  { name: 'a host short of power gets its raise at once, even within the band', fraction: 0.1, prev: 200, demand: 205, cap: 215, expect: 215 },
  { name: 'a small budget is still damped by hysteresisWatts', fraction: 0.1, prev: 30, demand: 20, cap: 33, expect: 30 },
];
for (const c of cases) {
  test(`split damping: ${c.name}`, (t) => {
    const consumers = [{ id: 'a', floorWatts: 10, capWatts: c.cap, demandWatts: c.demand }];
    const r = splitBudget(1000, consumers, { ...p, hysteresisFraction: c.fraction }, new Map([['a', c.prev]]));
    t.is(r.budgets.get('a'), c.expect);
    t.is(r.changed.length, c.expect === c.prev ? 0 : 1);
  });
}

test('with damping, kept budgets that would exceed the total give way: the sum never exceeds it', (t) => {
  // Both fell by 8 % (within the band) but the total fell by more: one must take its new budget.
  const consumers = [host('a', 184), host('b', 184)];
  const r = splitBudget(368, consumers, { ...p, hysteresisFraction: 0.1 }, new Map([['a', 200], ['b', 200]]));
  const sum = [...r.budgets.values()].reduce((x, y) => x + y, 0);
  t.true(sum <= 368 + 1e-9, `sum ${sum}`);
  t.is(r.changed.length, 2);
});

test('any damped split keeps the sum within the total, and a kept budget within its band of the undamped one', (t) => {
  const arb = fc.record({
    total: fc.double({ min: 0, max: 5000, noNaN: true }),
    fraction: fc.double({ min: 0, max: 0.5, noNaN: true }),
    hosts: fc.array(fc.record({ floor: fc.double({ min: 0, max: 200, noNaN: true }), extra: fc.double({ min: 0, max: 400, noNaN: true }), demand: fc.double({ min: 0, max: 800, noNaN: true }), prev: fc.double({ min: 0, max: 800, noNaN: true }) }), { minLength: 1, maxLength: 30 }),
  });
  fc.assert(fc.property(arb, ({ total, fraction, hosts }) => {
    const consumers = hosts.map((h, i) => ({ id: `h${i}`, floorWatts: h.floor, capWatts: h.floor + h.extra, demandWatts: h.demand }));
    const previous = new Map(hosts.map((h, i) => [`h${i}`, Math.round(h.prev * 10) / 10]));
    const params = { marginFraction: 0.05, marginWatts: 5, hysteresisWatts: 5, hysteresisFraction: fraction };
    const r = splitBudget(total, consumers, params, previous);
    const free = splitBudget(total, consumers, params);
    let sum = 0;
    for (const [id, w] of r.budgets) {
      sum += w;
      const prev = previous.get(id) as number;
      if (w === prev && !r.changed.includes(id)) {
        const band = Math.max(5, fraction * prev);
        if (Math.abs(prev - (free.budgets.get(id) as number)) >= band + 0.1) return false;
      }
    }
    return sum <= total + 1e-6;
  }), { numRuns: 300 });
  t.pass();
});

test('with no event client the hub serialises nothing and counts nothing', (t) => {
  const events = new EventEmitter();
  const hub = new SseHub({ events } as unknown as LeaderApi, { keepAliveMs: 60_000 });
  t.teardown(() => hub.close());
  let serialised = 0;
  t.notThrows(() => events.emit('decision', { toJSON: () => { serialised++; return {}; } }));
  t.notThrows(() => events.emit('power', { at: 1, clusterWatts: 10n, clusterBudgetWatts: 1 }));
  t.is(serialised, 0);
  t.deepEqual(hub.counters, { dropped: 0, sent: 0, refused: 0, unserialisable: 0 });
});
