// Closed-loop step responses: the real broker and policies drive a simulated host plant
// (power = model(util, frequency ratio) + noise). docs/policies.md shows the same scenarios.
import test from 'ava';
import fc from 'fast-check';
import { runLoop, stepMetrics } from './loop.js';
import { mismatchedModel, STEP_SCENARIOS } from './scenarios.js';

const BAND = 4;

for (const sc of STEP_SCENARIOS) {
  test(`closed loop: ${sc.name} settles fast, without overshoot or sustained oscillation`, async (t) => {
    const trace = await runLoop(sc);
    const m = stepMetrics(trace, sc.stepAt, BAND + (sc.noiseWatts ?? 0));
    t.true(m.settlingPeriods <= 6, `settling ${m.settlingPeriods} periods`);
    t.true(m.longestOverRun <= 1, `over budget ${m.longestOverRun} periods in a row`);
    t.is(m.tailReversals, 0, 'the cap does not keep changing direction');
    const budget = sc.budget[1];
    t.true(m.finalWatts <= budget, `final ${m.finalWatts} W over the ${budget} W budget`);
    // Either close to the setpoint (budget - margin), or the cap is at max with power under it.
    const atMax = trace.capKHz[trace.capKHz.length - 1] === 3_000_000;
    t.true(atMax || m.finalWatts >= budget - 4 - BAND - (sc.noiseWatts ?? 0), `final ${m.finalWatts} W wastes headroom`);
    // After settling, power never crosses the budget again.
    const settled = trace.watts.slice(sc.stepAt + m.settlingPeriods);
    t.true(settled.every((w) => w <= budget), 'no later budget violation');
  });
}

test('closed loop: a budget raise approaches the new budget from below (no overshoot)', async (t) => {
  const sc = STEP_SCENARIOS.find((s) => s.name.startsWith('budget raise'))!;
  const trace = await runLoop(sc);
  t.true(trace.watts.slice(sc.stepAt).every((w) => w <= sc.budget[1] - 2));
  const after = trace.watts.slice(sc.stepAt, sc.stepAt + 8);
  t.true(after.every((w, i) => i === 0 || w >= after[i - 1]! - 0.01), `monotone rise: ${after.map((w) => w.toFixed(1)).join(' ')}`);
});

test('closed loop: power never stays over budget for more than 2 periods, whatever the steps, policies, noise or model error', async (t) => {
  const policySets = [
    [{ name: 'sla-dvfs' }, { name: 'fail-safe' }],
    [{ name: 'budget' }, { name: 'fail-safe' }],
    [{ name: 'sla-dvfs' }, { name: 'budget' }, { name: 'vm-shares' }, { name: 'fail-safe' }],
  ];
  await fc.assert(fc.asyncProperty(
    fc.record({
      d0: fc.double({ min: 0.05, max: 1, noNaN: true }), d1: fc.double({ min: 0.05, max: 1, noNaN: true }),
      b0: fc.integer({ min: 150, max: 260 }), b1: fc.integer({ min: 150, max: 260 }),
      noise: fc.double({ min: 0, max: 3, noNaN: true }), set: fc.integer({ min: 0, max: 2 }),
      mismatch: fc.boolean(), sla: fc.boolean(), seed: fc.integer(),
    }),
    async (r) => {
      const trace = await runLoop({
        name: 'property', periods: 40, stepAt: 15, demand: [r.d0, r.d1], budget: [r.b0, r.b1], noiseWatts: r.noise,
        policies: policySets[r.set]!, slaViolation: r.sla, seed: r.seed, ...(r.mismatch ? { plantModel: mismatchedModel } : {}),
      });
      const m = stepMetrics(trace, 0, BAND);
      return m.longestOverRun <= 2;
    },
  ), { numRuns: 60 });
  t.pass();
});

test('closed loop: sla-dvfs alone (the paper) raises on violations up to the budget and holds there', async (t) => {
  const trace = await runLoop({ name: 'paper', periods: 40, stepAt: 0, demand: [0.9, 0.9], budget: [210, 210], policies: [{ name: 'sla-dvfs' }, { name: 'fail-safe' }], slaViolation: true, startCapKHz: 1_500_000 });
  const tail = trace.watts.slice(-10);
  t.true(tail.every((w) => w <= 210 && w >= 195), `tail ${tail.map((w) => w.toFixed(1)).join(' ')}`);
});

const combined = [{ name: 'sla-dvfs' }, { name: 'budget', params: { raise: false } }, { name: 'vm-shares' }, { name: 'fail-safe' }];

test('closed loop: sla-dvfs beside budget {raise: false} under steady SLA violations settles under the budget without a fight', async (t) => {
  const trace = await runLoop({ name: 'combined-violating', periods: 60, stepAt: 0, demand: [0.9, 0.9], budget: [200, 200], policies: combined, slaViolation: true, startCapKHz: 1_500_000 });
  const m = stepMetrics(trace, 0, BAND);
  t.is(m.tailReversals, 0, `cap tail ${trace.capKHz.slice(-20).join(' ')}`);
  t.true(m.finalWatts <= 200 && m.finalWatts >= 190, `final ${m.finalWatts} W`);
  t.is(m.longestOverRun, 0);
});

test('closed loop: sla-dvfs beside budget {raise: false} with every SLA met relaxes steadily (no sawtooth)', async (t) => {
  const trace = await runLoop({ name: 'combined-roomy', periods: 200, stepAt: 0, demand: [0.5, 0.5], budget: [220, 220], policies: [{ name: 'sla-dvfs', params: { relaxSlack: 0.05 } }, { name: 'budget', params: { raise: false } }, { name: 'fail-safe' }] });
  const caps = trace.capKHz;
  t.true(caps.every((c, i) => i === 0 || c <= caps[i - 1]!), 'the cap only goes down');
  t.true(caps[caps.length - 1]! < caps[0]!, 'and it did relax');
});

test('closed loop: budget in its default raise mode beside sla-dvfs fights it (why raise: false exists)', async (t) => {
  const trace = await runLoop({ name: 'fight', periods: 200, stepAt: 0, demand: [0.5, 0.5], budget: [180, 180], policies: [{ name: 'sla-dvfs', params: { relaxSlack: 0.05 } }, { name: 'budget' }] });
  let reversals = 0;
  let last = 0;
  for (let k = 1; k < trace.capKHz.length; k++) {
    const dir = Math.sign(trace.capKHz[k]! - trace.capKHz[k - 1]!);
    if (dir !== 0 && last !== 0 && dir !== last) reversals++;
    if (dir !== 0) last = dir;
  }
  t.true(reversals > 5, `${reversals} reversals`);
});

test('closed loop: when the leader goes away the last budget holds, then the safe budget is met within 2 periods', async (t) => {
  const trace = await runLoop({ name: 'leader-lost', periods: 60, stepAt: 0, demand: [0.8, 0.8], budget: [220, 220], leaderLostAt: 10, leaderTimeoutMs: 20_000, policies: [{ name: 'budget' }, { name: 'fail-safe' }] });
  t.deepEqual([trace.budget[9], trace.budget[20], trace.budget[31]], [220, 220, 150], 'leader, last-known, safe');
  const switchAt = trace.budget.indexOf(150);
  const m = stepMetrics(trace, switchAt, BAND);
  t.true(m.longestOverRun <= 2, `over the safe budget ${m.longestOverRun} periods in a row`);
  t.true(trace.watts.slice(switchAt + 2).every((w) => w <= 150), 'and under it from then on');
});
