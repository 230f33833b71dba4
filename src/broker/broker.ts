// The M-broker runtime: every control period (and at once when asked, e.g. on an SLA violation)
// it builds a snapshot, runs each policy, merges their decisions (most restrictive wins), journals
// them, carries them out through the one actuator, and one period later records the observed
// effect. Logs say why: {host, vm, policy, reason, predicted, actual}.
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../domain/clock.js';
import { knobKey, type Decision, type HostSnapshot } from '../domain/model.js';
import type { Actuator, ApplyResult } from './actuator.js';
import type { EventBus } from './bus.js';
import type { BrokerEvents } from './events.js';
import type { DecisionJournal } from './journal.js';
import { LatencyWindow } from './latency.js';
import { mergeDecisions } from './merge.js';
import type { PolicyInstance, PolicyRegistry, PolicySpec } from './registry.js';

export interface BrokerOptions {
  readonly host: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly registry: PolicyRegistry;
  readonly policies: readonly PolicySpec[];
  readonly actuator: Actuator;
  readonly journal: DecisionJournal;
  readonly snapshot: () => HostSnapshot;
  readonly bus?: EventBus<BrokerEvents>;
  /** Control period, ms. */
  readonly periodMs: number;
  /** Least time between two cycles asked for out of period, ms. */
  readonly minGapMs?: number;
  /** Monotonic time with sub-ms resolution for the latency windows, ms (default performance.now). */
  readonly monotonicMs?: () => number;
}

/** Where a decision's time goes, ms (recent samples; see LatencyWindow). */
export interface BrokerLatency {
  /** From requestCycle() (an SLA violation, a new budget) to the first decision handed to the actuator. */
  readonly triggerToApply: LatencyWindow;
  /** Actuator calls that succeeded, by decision kind: rails + the backend call (e.g. powerd's D-Bus round trip). */
  readonly apply: Map<string, LatencyWindow>;
}

export interface CycleResult {
  readonly snapshot: HostSnapshot;
  readonly decisions: readonly Decision[];
  readonly results: readonly ApplyResult[];
}

export interface BrokerCounters {
  cycles: number;
  policyErrors: number;
  applied: number;
  refused: number;
}

const OWNER = 'broker';
const RAIL_CODES: ReadonlySet<string> = new Set(['dwell', 'rate-limited', 'cooldown', 'in-flight']);

export class Broker {
  private instances: PolicyInstance[];
  private timer: TimerHandle | undefined;
  private running: Promise<CycleResult> | undefined;
  private again = false;
  private lastCycleAt = Number.NEGATIVE_INFINITY;
  private pendingObservation: { id: number; decision: Decision }[] = [];
  /** No timer running (not started yet, or stopped). */
  private stopped = true;
  /** stop() was called: no more cycles of any kind. */
  private closed = false;
  private last: CycleResult | undefined;
  /** When the oldest unserved requestCycle() came (monotonic ms). */
  private triggeredAt: number | undefined;
  private readonly mono: () => number;
  readonly counters: BrokerCounters = { cycles: 0, policyErrors: 0, applied: 0, refused: 0 };
  readonly latency: BrokerLatency = { triggerToApply: new LatencyWindow(), apply: new Map() };

  constructor(private readonly opts: BrokerOptions) {
    this.instances = opts.registry.instantiate(opts.policies);
    this.mono = opts.monotonicMs ?? (() => performance.now());
  }

  /** Replaces the policy set (validated first; on error the old set stays). Memory starts afresh. */
  reconfigure(policies: readonly PolicySpec[]): void {
    this.instances = this.opts.registry.instantiate(policies);
  }

  /** The latest cycle's snapshot, decisions and results (for metrics and vmanagectl). */
  get lastCycle(): CycleResult | undefined {
    return this.last;
  }

  policyNames(): string[] {
    return this.instances.map((i) => i.name);
  }

  start(): void {
    if (!this.stopped || this.closed) return;
    this.stopped = false;
    this.schedule(this.opts.periodMs);
  }

  /** Stops the timer and removes the broker's bus listeners; waits for a running cycle. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.opts.bus?.removeOwner(OWNER);
    if (this.running) await this.running.catch(() => undefined);
  }

  /**
   * Runs a cycle now (coalesced: if one is running, one more follows it; never closer than
   * minGapMs to the previous one, then it waits for the next period).
   */
  requestCycle(): void {
    if (this.closed) return;
    this.triggeredAt ??= this.mono();
    if (this.running) {
      this.again = true;
      return;
    }
    const gap = this.opts.minGapMs ?? 0;
    if (this.opts.clock.now() - this.lastCycleAt < gap) return;
    void this.cycle().catch((err: unknown) => this.opts.logger.error({ err }, 'broker cycle failed'));
  }

  /** One control cycle. Never runs two at once: a call while one runs returns that one. */
  cycle(): Promise<CycleResult> {
    if (this.running) return this.running;
    this.running = this.runCycle().finally(() => {
      this.running = undefined;
      if (this.again && !this.closed) {
        this.again = false;
        this.requestCycle();
      }
    });
    return this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.opts.clock.setTimer(ms, () => {
      void this.cycle()
        .catch((err: unknown) => this.opts.logger.error({ err }, 'broker cycle failed'))
        .finally(() => this.schedule(this.opts.periodMs));
    });
  }

  private async runCycle(): Promise<CycleResult> {
    const { clock, logger, host } = this.opts;
    this.lastCycleAt = clock.now();
    this.counters.cycles++;
    const triggeredAt = this.triggeredAt;
    this.triggeredAt = undefined;
    const snapshot = this.opts.snapshot();
    this.observe(snapshot);
    const proposed: Decision[] = [];
    for (const inst of this.instances) {
      try {
        proposed.push(...inst.policy.decide(snapshot, inst.params, clock));
      } catch (err) {
        this.counters.policyErrors++;
        logger.error({ host, policy: inst.name, err }, 'policy failed; its decisions for this cycle are dropped');
      }
    }
    const { chosen, overruled } = mergeDecisions(proposed);
    for (const o of overruled) {
      this.opts.journal.append({ at: snapshot.at, host, decision: o.decision, outcome: 'overruled' });
      logger.debug({ ...why(host, o.decision), by: o.by.policy }, 'decision overruled by a more restrictive one');
    }
    for (const d of chosen) this.opts.bus?.emit('applying', { decision: d });
    if (triggeredAt !== undefined && chosen.length > 0) this.latency.triggerToApply.record(this.mono() - triggeredAt);
    const results = await Promise.all(chosen.map((d) => this.timedApply(d)));
    for (const r of results) this.record(snapshot, r);
    this.opts.actuator.prune();
    this.last = { snapshot, decisions: chosen, results };
    this.opts.bus?.emit('cycle', this.last);
    return this.last;
  }

  private async timedApply(d: Decision): Promise<ApplyResult> {
    const t0 = this.mono();
    const r = await this.opts.actuator.apply(d);
    if (r.ok) {
      let w = this.latency.apply.get(d.kind);
      if (!w) this.latency.apply.set(d.kind, (w = new LatencyWindow()));
      w.record(this.mono() - t0);
    }
    return r;
  }

  private record(snapshot: HostSnapshot, r: ApplyResult): void {
    const { host, logger, journal, bus } = this.opts;
    const d = r.decision;
    if (r.ok) {
      this.counters.applied++;
      const id = journal.append({ at: snapshot.at, host, decision: d, outcome: 'applied', backend: r.backend });
      this.pendingObservation.push({ id, decision: d });
      logger.info({ ...why(host, d), backend: r.backend, previous: r.previous }, `${d.kind} ${d.target} -> ${d.value}`);
      bus?.emit('applied', { result: r, journalId: id });
    } else {
      this.counters.refused++;
      const id = journal.append({ at: snapshot.at, host, decision: d, outcome: 'refused', refusal: r.refusal });
      // Rails doing their job (dwell, rate, cooldown, in flight) are expected: debug. A backend
      // failure or a value out of bounds means something is wrong: warn.
      const level = RAIL_CODES.has(r.refusal.code) ? 'debug' : 'warn';
      logger[level]({ ...why(host, d), refusal: r.refusal }, `${d.kind} ${d.target} refused: ${r.refusal.code}`);
      bus?.emit('refused', { result: r, journalId: id });
    }
  }

  /** Fills in the observed effect of the previous cycle's applied decisions. */
  private observe(s: HostSnapshot): void {
    const pending = this.pendingObservation;
    this.pendingObservation = [];
    for (const { id, decision } of pending) {
      const value = knobValue(s, decision);
      const watts = s.power?.watts;
      this.opts.journal.observe(id, { at: s.at, ...(watts === undefined ? {} : { watts }), ...(value === undefined ? {} : { value }) });
      this.opts.logger.debug({ ...why(s.host, decision), actual: { watts, value } }, `observed after ${knobKey(decision)}`);
    }
  }
}

function why(host: string, d: Decision): Record<string, unknown> {
  const vm = d.kind === 'set-frequency-cap' || d.kind === 'set-power-limit' ? undefined : d.target;
  return { host, vm, policy: d.policy, kind: d.kind, value: d.value, reason: d.reason, predicted: d.predicted, inputs: d.inputs };
}

function knobValue(s: HostSnapshot, d: Decision): number | undefined {
  switch (d.kind) {
    case 'set-frequency-cap': return s.frequency.capKHz;
    case 'set-power-limit': return s.powerLimit?.watts ?? undefined;
    case 'set-vm-shares': return s.vms.find((v) => v.uuid === d.target)?.scheduler.cpuShares;
    case 'set-vm-quota': return s.vms.find((v) => v.uuid === d.target)?.scheduler.vcpuQuotaUs;
    case 'request-migration': return undefined;
  }
}
