import test from 'ava';
import { ManualClock } from '../../src/domain/clock.js';
import type { HostSnapshot } from '../../src/domain/model.js';
import { budgetDefaults, budgetPolicy, type BudgetParams } from '../../src/domain/policies/budget.js';
import { predictWatts } from '../../src/domain/policies/predict.js';
import { MAX_KHZ, snapshot, testModel } from './fixtures.js';

const params = budgetDefaults as BudgetParams;
const setpoint = 200 - params.marginWatts;

interface Row {
  readonly name: string;
  readonly snap: HostSnapshot;
  readonly expect: 'none' | 'lower' | 'raise';
  readonly code?: string;
  /** Bounds on the predicted watts of the decision. */
  readonly predicted?: readonly [number, number];
}

const rows: Row[] = [
  { name: 'power over budget jumps to the cap the model predicts for the setpoint', snap: snapshot({ watts: 235, cpuUtil: 0.9, capKHz: MAX_KHZ }), expect: 'lower', code: 'budget-exceeded', predicted: [setpoint - 1, setpoint + 0.01] },
  { name: 'power between setpoint and budget lowers gently (PI)', snap: snapshot({ watts: 199 }), expect: 'lower', code: 'over-setpoint', predicted: [setpoint, 199] },
  { name: 'power within the deadband of the setpoint asks for nothing', snap: snapshot({ watts: setpoint - 1 }), expect: 'none' },
  { name: 'power well under the setpoint raises the cap, never past the setpoint', snap: snapshot({ watts: 150 }), expect: 'raise', code: 'under-setpoint', predicted: [150, setpoint] },
  { name: 'a stale reading under the budget never raises', snap: snapshot({ watts: 150, stale: true }), expect: 'none' },
  { name: 'an old reading never raises', snap: snapshot({ watts: 150, ageMs: 60_000 }), expect: 'none' },
  { name: 'a negative reading is garbage: no action', snap: snapshot({ watts: -5 }), expect: 'none' },
  { name: 'an infinite reading is garbage: no action', snap: snapshot({ watts: Number.POSITIVE_INFINITY }), expect: 'none' },
  { name: 'at the maximum cap with room to spare there is nothing to raise', snap: snapshot({ watts: 150, capKHz: MAX_KHZ }), expect: 'none' },
  { name: 'a missing reading asks for nothing at first', snap: { ...snapshot(), power: undefined }, expect: 'none' },
];

for (const row of rows) {
  test(`budget: ${row.name}`, (t) => {
    const out = budgetPolicy.create().decide(row.snap, params, new ManualClock(0));
    if (row.expect === 'none') {
      t.deepEqual(out, []);
      return;
    }
    t.is(out.length, 1);
    const d = out[0]!;
    t.is(d.kind, 'set-frequency-cap');
    t.is<string | undefined, string | undefined>(d.reason.code, row.code);
    t.is(d.value > row.snap.frequency.capKHz, row.expect === 'raise');
    if (row.predicted) {
      const w = d.predicted.watts ?? Number.NaN;
      t.true(w >= row.predicted[0] && w <= row.predicted[1], `predicted ${w} W outside [${row.predicted[0]}, ${row.predicted[1]}]`);
    }
  });
}

test('budget: one low noisy reading cannot raise the cap past the budget at the true power', (t) => {
  const policy = budgetPolicy.create();
  const clock = new ManualClock(0);
  const steady = snapshot({ watts: setpoint - 1 });
  for (let i = 0; i < 5; i++, clock.advance(1000)) t.deepEqual(policy.decide(steady, params, clock), []);
  const out = policy.decide(snapshot({ watts: setpoint - 40 }), params, clock);
  const raise = out[0]?.value ?? steady.frequency.capKHz;
  t.true(raise - steady.frequency.capKHz <= params.maxRaiseFraction * MAX_KHZ);
  t.true(predictWatts(steady, raise) <= 200, `true power after the raise ${predictWatts(steady, raise)} W`);
});

test('budget: blind for blindLowerAfterMs, it caps for a fully busy host under the budget', (t) => {
  const policy = budgetPolicy.create();
  const clock = new ManualClock(0);
  const blind = snapshot({ watts: 150, stale: true, capKHz: MAX_KHZ });
  t.deepEqual(policy.decide(blind, params, clock), []);
  clock.advance(params.blindLowerAfterMs - 1);
  t.deepEqual(policy.decide(blind, params, clock), []);
  clock.advance(1);
  const [d] = policy.decide(blind, params, clock);
  t.like(d, { kind: 'set-frequency-cap', reason: { code: 'sensor-blind' } });
  t.true(testModel.watts(1, d!.value / MAX_KHZ) <= setpoint);
  t.true(testModel.watts(1, (d!.value + 20_000) / MAX_KHZ) > setpoint, 'not lower than needed');
});

test('budget: a fresh reading ends blindness (no further worst-case cuts)', (t) => {
  const policy = budgetPolicy.create();
  const clock = new ManualClock(0);
  policy.decide(snapshot({ stale: true }), params, clock);
  clock.advance(5000);
  policy.decide(snapshot({ watts: setpoint }), params, clock);
  clock.advance(6000);
  t.deepEqual(policy.decide(snapshot({ stale: true, watts: setpoint }), params, clock), []);
});

test('budget: the deadbeat jump lands on the setpoint under the model (prediction check)', (t) => {
  const s = snapshot({ watts: 240, capKHz: MAX_KHZ });
  const [d] = budgetPolicy.create().decide(s, params, new ManualClock(0));
  t.true(Math.abs(predictWatts(s, d!.value) - setpoint) < 1);
});
