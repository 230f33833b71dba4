import test from 'ava';
import fc from 'fast-check';
import { aggregateConsumers, budgetSplitDefaults, hostConsumers, splitBudget, type BudgetConsumer } from '../../src/domain/leader/budget-split.js';
import { buildIndex } from '../../src/domain/leader/cluster-index.js';
import { host, state, vm } from './fixtures.js';

const p = { marginFraction: 0, marginWatts: 0, hysteresisWatts: 5 };
const c = (id: string, floorWatts: number, capWatts: number, demandWatts: number): BudgetConsumer => ({ id, floorWatts, capWatts, demandWatts });
const obj = (m: Map<string, number>): Record<string, number> => Object.fromEntries(m);

const rows: { name: string; total: number; consumers: BudgetConsumer[]; want: Record<string, number>; shortfall?: number }[] = [
  { name: 'demand met in full when the total allows, the rest up to the caps', total: 400, consumers: [c('a', 90, 150, 100), c('b', 90, 150, 120)], want: { a: 150, b: 150 } },
  { name: 'a small demand is met before a big one grows (max-min fair above the floor)', total: 220, consumers: [c('a', 90, 150, 100), c('b', 90, 150, 150)], want: { a: 100, b: 120 } },
  { name: 'scarce watts are shared equally above the floors', total: 200, consumers: [c('a', 90, 150, 140), c('b', 90, 150, 150)], want: { a: 100, b: 100 } },
  { name: 'every consumer gets at least its floor', total: 200, consumers: [c('a', 90, 150, 0), c('b', 90, 150, 150)], want: { a: 90, b: 110 } },
  { name: 'a total under the floors scales them down and reports the shortfall', total: 90, consumers: [c('a', 90, 150, 100), c('b', 90, 150, 100)], want: { a: 45, b: 45 }, shortfall: 90 },
  { name: 'no consumer passes its cap, the rest is reported unused', total: 1000, consumers: [c('a', 90, 150, 300)], want: { a: 150 } },
];

for (const row of rows) {
  test(row.name, (t) => {
    const r = splitBudget(row.total, row.consumers, p);
    t.deepEqual(obj(r.budgets), row.want);
    t.is(r.shortfallWatts, row.shortfall ?? 0);
  });
}

test('budgets do not churn for small demand shifts (hysteresis)', (t) => {
  const first = splitBudget(250, [c('a', 90, 150, 110), c('b', 90, 150, 130)], p);
  const again = splitBudget(250, [c('a', 90, 150, 112), c('b', 90, 150, 128)], p, first.budgets);
  t.deepEqual(obj(again.budgets), obj(first.budgets));
  t.deepEqual(again.changed, []);
});

test('a host short of power gets its raise at once despite hysteresis', (t) => {
  const first = splitBudget(200, [c('a', 90, 150, 100), c('b', 90, 150, 100)], p);
  const again = splitBudget(250, [c('a', 90, 150, 150), c('b', 90, 150, 100)], p, first.budgets);
  t.is(again.budgets.get('a'), 150);
  t.deepEqual(again.changed, ['a']);
});

test('hierarchical: a data-centre budget splits over clusters as aggregates of their hosts', (t) => {
  const c1 = aggregateConsumers('c1', [c('a', 90, 150, 140), c('b', 90, 150, 140)]);
  const c2 = aggregateConsumers('c2', [c('c', 90, 150, 95)]);
  t.deepEqual(c1, { id: 'c1', floorWatts: 180, capWatts: 300, demandWatts: 280 });
  const r = splitBudget(400, [c1, c2], p);
  // Demands first (280 and 95), then the 25 W left shared equally up to the caps.
  t.deepEqual(obj(r.budgets), { c1: 292.5, c2: 107.5 });
});

test('cluster hosts become consumers: idle floor, peak demand by the model, off hosts get nothing', (t) => {
  const index = buildIndex(state([host('on1', { measuredWatts: 100 }), host('off1', { state: 'off' })], [vm('v', 'on1', { vcpus: 8, cpuPeak: 0.5 })]));
  const [on1, off1] = hostConsumers(index);
  t.deepEqual(off1, { id: 'off1', floorWatts: 0, capWatts: 0, demandWatts: 0 });
  t.is(on1?.floorWatts, 93.7);
  // 4 of 8 cores at peak = 50 % -> 116 W by the model, over the 100 W measured now.
  t.is(on1?.demandWatts, 116);
});

test('property: budgets sum to at most the total and stay within floor and cap when feasible', (t) => {
  const consumer = fc.record({ floor: fc.double({ min: 0, max: 200, noNaN: true }), extra: fc.double({ min: 0, max: 200, noNaN: true }), demand: fc.double({ min: -10, max: 500, noNaN: true }) });
  fc.assert(fc.property(fc.array(consumer, { minLength: 1, maxLength: 40 }), fc.double({ min: 0, max: 10_000, noNaN: true }), fc.boolean(), (cs, total, withPrev) => {
    const list = cs.map((x, i) => c(`h${i}`, x.floor, x.floor + x.extra, x.demand));
    const prev = withPrev ? splitBudget(total * 0.9, list, budgetSplitDefaults).budgets : undefined;
    const r = splitBudget(total, list, budgetSplitDefaults, prev);
    const sum = [...r.budgets.values()].reduce((a, b) => a + b, 0);
    if (sum > total + 1e-6) return false;
    const feasible = r.shortfallWatts === 0;
    return list.every((x) => {
      const b = r.budgets.get(x.id) as number;
      return b <= x.capWatts + 1e-6 && (!feasible || b >= x.floorWatts - 0.1 - 1e-9);
    });
  }), { numRuns: 500 });
  t.pass();
});

test('a binding total re-budgets only the consumers whose kept budget does not fit (partial hysteresis)', (t) => {
  // 400 W: targets 100, 90, 100, 100 and 10 W left: 102.5, 92.5, 102.5, 102.5. Every previous
  // budget is within the 5 W band, but kept they sum to 403 W: only a (3 W over) gives way.
  const consumers = [c('a', 50, 300, 100), c('b', 50, 300, 90), c('c', 50, 300, 100), c('d', 50, 300, 100)];
  const previous = new Map([['a', 105.5], ['b', 90.5], ['c', 103.5], ['d', 103.5]]);
  const r = splitBudget(400, consumers, p, previous);
  t.deepEqual(obj(r.budgets), { a: 102.5, b: 90.5, c: 103.5, d: 103.5 });
  t.deepEqual(r.changed, ['a']);
});
