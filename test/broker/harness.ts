// A broker wired like the MVM will wire it (bus -> snapshot builder -> broker -> actuator), on a
// manual clock, with a recording backend that also moves the host's knobs in the builder.
import type { Logger } from 'pino';
import { Actuator, Broker, type ActuatorBackend, createPolicyRegistry, defaultRails, EventBus, MemoryJournal, SnapshotBuilder, wireBroker, withRails, type BrokerEvents, type PolicySpec, type RailsConfig } from '../../src/broker/index.js';
import { ManualClock } from '../../src/domain/clock.js';
import type { Decision } from '../../src/domain/model.js';
import { builtinPolicies, type AnyPolicyBundle } from '../../src/domain/policies/index.js';
import { testModel } from '../policies/fixtures.js';
import { silent } from './support.js';

export interface HarnessOptions {
  readonly policies: readonly PolicySpec[];
  readonly bundles?: readonly AnyPolicyBundle[];
  readonly logger?: Logger;
  readonly rails?: RailsConfig;
  readonly minGapMs?: number;
  /** Carries decisions out after they are recorded in `done` (default: nothing more). */
  readonly backend?: ActuatorBackend;
  readonly monotonicMs?: () => number;
}

export function harness(o: HarnessOptions) {
  const clock = new ManualClock(1_000_000);
  const logger = o.logger ?? silent;
  const bus = new EventBus<BrokerEvents>(logger);
  const builder = new SnapshotBuilder({
    host: 'h1', clock, periodMs: 1000, cpus: 8, powerModel: testModel,
    frequency: { capKHz: 2_000_000, minKHz: 1_000_000, maxKHz: 3_000_000 },
    budget: { leaderTimeoutMs: 30_000, safeBudgetWatts: 150 },
  });
  const done: Decision[] = [];
  const actuator = new Actuator({
    clock,
    rails: o.rails ?? withRails(defaultRails(), { 'set-frequency-cap': { min: 1_000_000, max: 3_000_000, dwellMs: 0 } }),
    backend: { name: 'recording', apply: async (d) => { done.push(d); await o.backend?.apply(d); } },
  });
  const journal = new MemoryJournal(10_000);
  const broker = new Broker({
    host: 'h1', clock, logger, bus, periodMs: 1000, minGapMs: o.minGapMs ?? 0, ...(o.monotonicMs ? { monotonicMs: o.monotonicMs } : {}),
    registry: createPolicyRegistry(o.bundles ?? builtinPolicies()), policies: o.policies,
    actuator, journal, snapshot: () => builder.build(),
  });
  const wiring = wireBroker({ bus, builder, broker, logger });
  return { clock, bus, builder, actuator, journal, broker, done, wiring };
}

export function power(watts: number, at: number, stale = false) {
  return { watts, timestamp: at, source: 'test', ageMs: 0, stale };
}

export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}
