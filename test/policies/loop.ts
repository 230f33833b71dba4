// A closed control loop for tests and the step-response report: the real broker (policies,
// merge, actuator with its rails, journal) drives a simulated host plant through an actuator
// backend, on a manual clock. Each period: the clock moves one period, the sensor reports the
// power of the period that just ended, the broker runs one cycle.
import pino from 'pino';
import { ManualClock } from '../../src/domain/clock.js';
import type { Decision } from '../../src/domain/model.js';
import type { PowerModel } from '../../src/domain/ports/power.js';
import { builtinPolicies } from '../../src/domain/policies/index.js';
import { Actuator, Broker, createPolicyRegistry, defaultRails, MemoryJournal, SnapshotBuilder, withRails, type PolicySpec } from '../../src/broker/index.js';
import { HostPlant, MAX_KHZ, MIN_KHZ, testModel } from './fixtures.js';

export interface LoopScenario {
  readonly name: string;
  readonly periods: number;
  readonly stepAt: number;
  /** Work at full clock, fraction of the host: before and after the step. */
  readonly demand: readonly [number, number];
  /** Host budget, W: before and after the step. */
  readonly budget: readonly [number, number];
  readonly noiseWatts?: number;
  /** The plant's true model (default: the same as the policies' model). */
  readonly plantModel?: PowerModel;
  readonly policies?: readonly PolicySpec[];
  readonly seed?: number;
  readonly startCapKHz?: number;
  /** From this period on the leader is gone: no more budgets (fail-safe takes over). */
  readonly leaderLostAt?: number;
  /** Leader timeout of the fail-safe budget, ms (default 60 000). */
  readonly leaderTimeoutMs?: number;
  /** A guest that reports an SLA violation every period (drives sla-dvfs up). */
  readonly slaViolation?: boolean;
}

export interface Trace {
  readonly watts: number[];
  readonly budget: number[];
  readonly capKHz: number[];
  readonly decisions: Decision[];
}

export const PERIOD_MS = 1000;
export const DEFAULT_LOOP_POLICIES: readonly PolicySpec[] = [{ name: 'budget' }, { name: 'fail-safe' }];

export async function runLoop(sc: LoopScenario): Promise<Trace> {
  const clock = new ManualClock(0);
  const plant = new HostPlant({ demand: sc.demand[0], capKHz: sc.startCapKHz ?? MAX_KHZ, noiseWatts: sc.noiseWatts ?? 0, seed: sc.seed ?? 7, ...(sc.plantModel ? { model: sc.plantModel } : {}) });
  const builder = new SnapshotBuilder({
    host: 'h1', clock, periodMs: PERIOD_MS, cpus: 8,
    frequency: { capKHz: plant.capKHz, minKHz: MIN_KHZ, maxKHz: MAX_KHZ },
    powerModel: testModel,
    budget: { leaderTimeoutMs: sc.leaderTimeoutMs ?? 60_000, safeBudgetWatts: 150 },
  });
  const decisions: Decision[] = [];
  const actuator = new Actuator({
    clock,
    rails: withRails(defaultRails(), { 'set-frequency-cap': { min: MIN_KHZ, max: MAX_KHZ, dwellMs: PERIOD_MS } }),
    backend: {
      name: 'plant',
      apply: async (d) => {
        decisions.push(d);
        if (d.kind === 'set-frequency-cap') {
          plant.capKHz = d.value;
          builder.setFrequencyCap(d.value);
        }
      },
    },
  });
  const broker = new Broker({
    host: 'h1', clock, logger: pino({ level: 'silent' }), periodMs: PERIOD_MS,
    registry: createPolicyRegistry(builtinPolicies()),
    policies: sc.policies ?? DEFAULT_LOOP_POLICIES,
    actuator, journal: new MemoryJournal(1000), snapshot: () => builder.build(),
  });
  builder.setVms([{ uuid: 'vm-1', name: 'vm-1', vcpus: 8, cpuUtil: plant.util }]);
  const trace: Trace = { watts: [], budget: [], capKHz: [], decisions };
  for (let k = 0; k < sc.periods; k++) {
    const after = k >= sc.stepAt;
    plant.demand = sc.demand[after ? 1 : 0];
    if (sc.leaderLostAt !== undefined && k >= sc.leaderLostAt) builder.setLeaderConnected(false);
    else builder.setLeaderBudget(sc.budget[after ? 1 : 0]);
    clock.advance(PERIOD_MS);
    const budget = builder.build().budget.watts;
    const watts = plant.power();
    builder.setPower({ watts, timestamp: clock.now(), source: 'plant', ageMs: 0, stale: false });
    builder.setHostUtil(plant.util);
    builder.upsertVm({ uuid: 'vm-1', vcpus: 8, cpuUtil: plant.util });
    builder.slaReport('vm-1', sc.slaViolation ? { status: 'violated', slack: -0.1 } : { status: 'ok', slack: 0.1 });
    trace.watts.push(watts);
    trace.budget.push(budget);
    trace.capKHz.push(plant.capKHz);
    await broker.cycle();
  }
  return trace;
}

export interface StepMetrics {
  /** Periods from the step until power stays within ±band of its final value. */
  readonly settlingPeriods: number;
  /** Highest power over the budget after the step, W (0 if never over). */
  readonly overshootWatts: number;
  /** Longest run of consecutive periods over the budget after the step. */
  readonly longestOverRun: number;
  /** Mean power over the last 10 periods, W. */
  readonly finalWatts: number;
  /** Direction changes of the cap in the last 20 periods (sustained oscillation shows here). */
  readonly tailReversals: number;
}

export function stepMetrics(t: Trace, stepAt: number, bandWatts: number): StepMetrics {
  const n = t.watts.length;
  const tail = t.watts.slice(n - 10);
  const finalWatts = tail.reduce((a, b) => a + b, 0) / tail.length;
  let settledFrom = n;
  for (let k = n - 1; k >= stepAt; k--) {
    if (Math.abs((t.watts[k] as number) - finalWatts) > bandWatts) break;
    settledFrom = k;
  }
  let overshoot = 0;
  let run = 0;
  let longest = 0;
  for (let k = stepAt; k < n; k++) {
    const over = (t.watts[k] as number) - (t.budget[k] as number);
    overshoot = Math.max(overshoot, over);
    run = over > 0 ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  let reversals = 0;
  let lastDir = 0;
  for (let k = n - 20; k < n; k++) {
    const d = Math.sign((t.capKHz[k] as number) - (t.capKHz[k - 1] as number));
    if (d !== 0 && lastDir !== 0 && d !== lastDir) reversals++;
    if (d !== 0) lastDir = d;
  }
  return { settlingPeriods: settledFrom - stepAt, overshootWatts: Math.round(overshoot * 10) / 10, longestOverRun: longest, finalWatts: Math.round(finalWatts * 10) / 10, tailReversals: reversals };
}
