import test from 'ava';
import type { BudgetState } from '../../src/domain/model.js';
import { effectiveBudget, failSafeDefaults, failSafePolicy, type BudgetInputs, type FailSafeParams } from '../../src/domain/policies/fail-safe.js';
import { ManualClock } from '../../src/domain/clock.js';
import { MIN_KHZ, snapshot } from './fixtures.js';

const budgetParams = { leaderTimeoutMs: 30_000, safeBudgetWatts: 150 };

const rows: { name: string; inp: BudgetInputs; now: number; want: BudgetState }[] = [
  { name: 'a connected leader’s budget is in force', inp: { leaderWatts: 220, leaderContactAt: 0, leaderConnected: true }, now: 100_000, want: { watts: 220, source: 'leader', leaderAt: 0 } },
  { name: 'without the leader the last budget is kept until the timeout', inp: { leaderWatts: 220, leaderContactAt: 0, leaderConnected: false }, now: 29_999, want: { watts: 220, source: 'last-known', leaderAt: 0 } },
  { name: 'after the timeout the safe budget applies', inp: { leaderWatts: 220, leaderContactAt: 0, leaderConnected: false }, now: 30_000, want: { watts: 150, source: 'safe', leaderAt: 0 } },
  { name: 'the fallback never raises a lower last budget', inp: { leaderWatts: 120, leaderContactAt: 0, leaderConnected: false }, now: 60_000, want: { watts: 120, source: 'safe', leaderAt: 0 } },
  { name: 'before any leader budget, the config budget applies', inp: { leaderConnected: false, configWatts: 180 }, now: 0, want: { watts: 180, source: 'config' } },
  { name: 'with neither, the safe budget applies', inp: { leaderConnected: false }, now: 0, want: { watts: 150, source: 'safe' } },
];

for (const row of rows) {
  test(`effectiveBudget: ${row.name}`, (t) => {
    t.deepEqual(effectiveBudget(row.inp, row.now, budgetParams), row.want);
  });
}

const params = failSafeDefaults as FailSafeParams;
const limitKnob = { watts: 200, minWatts: 50, maxWatts: 400 };

test('fail-safe: the first period over budget caps at the model’s prediction, the second at the minimum frequency with the hardware limit', (t) => {
  const guard = failSafePolicy.create();
  const clock = new ManualClock(0);
  const over = snapshot({ watts: 215, cpuUtil: 0.9, powerLimit: limitKnob });
  const first = guard.decide(over, params, clock);
  t.deepEqual(first.map((d) => [d.kind, d.reason.code]), [['set-frequency-cap', 'guard-first-period']]);
  t.true(first[0]!.value < over.frequency.capKHz);
  const second = guard.decide(over, params, clock);
  t.deepEqual(second.map((d) => [d.kind, d.value, d.reason.code]), [
    ['set-frequency-cap', MIN_KHZ, 'guard-second-period'],
    ['set-power-limit', 196, 'guard-hardware-limit'],
  ]);
  const calm = guard.decide(snapshot({ watts: 180, capKHz: MIN_KHZ, powerLimit: { ...limitKnob, watts: 196 } }), params, clock);
  t.deepEqual(calm.map((d) => [d.kind, d.value, d.reason.code]), [['set-power-limit', 200, 'budget-backstop']], 'limit goes back to the budget');
});

test('fail-safe: a stale reading under budget does not reset the count of periods over budget', (t) => {
  const guard = failSafePolicy.create();
  guard.decide(snapshot({ watts: 215 }), params, new ManualClock(0));
  guard.decide(snapshot({ watts: 150, stale: true }), params, new ManualClock(0));
  const out = guard.decide(snapshot({ watts: 215 }), params, new ManualClock(0));
  t.is(out[0]?.reason.code, 'guard-second-period');
});

test('fail-safe: the hardware backstop follows the budget (within tolerance) and can be turned off', (t) => {
  const guard = failSafePolicy.create();
  const s = snapshot({ watts: 150, budget: 230, powerLimit: { ...limitKnob, watts: null } });
  t.deepEqual(guard.decide(s, params, new ManualClock(0)).map((d) => [d.kind, d.value]), [['set-power-limit', 230]]);
  t.deepEqual(guard.decide({ ...s, powerLimit: { ...limitKnob, watts: 230.5 } }, params, new ManualClock(0)), []);
  t.deepEqual(guard.decide(s, { ...params, hardwareBackstop: false }, new ManualClock(0)), []);
});

test('fail-safe: the limit stays inside the hardware range', (t) => {
  const guard = failSafePolicy.create();
  const out = guard.decide(snapshot({ watts: 30, budget: 40, powerLimit: { ...limitKnob, watts: null } }), params, new ManualClock(0));
  t.is(out[0]?.value, 50);
});
