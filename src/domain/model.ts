// The host snapshot a policy decides on, and the decisions it returns. Pure data: the MVM's
// snapshot builder, the leader and the simulator all fill the same shapes.
// Units: watts (W), kilohertz (kHz, as cpufreq), milliseconds (ms, epoch or duration as named),
// utilisation and slack as fractions, CPU bandwidth in microseconds (µs) per period.
import type { PowerModel } from './ports/power.js';
import type { SchedulerParams } from './ports/hypervisor.js';

/** A power reading as the policies see it (from PowerReading, plus plausibility). */
export interface PowerSample {
  readonly watts: number;
  /** Age of the value at snapshot time, ms. */
  readonly ageMs: number;
  /** True when the sensor stopped answering and this is its last good value. */
  readonly stale: boolean;
  readonly source: string;
}

/** Where the budget in force came from (see policies/fail-safe.ts: effectiveBudget). */
export type BudgetSource = 'leader' | 'last-known' | 'safe' | 'config';

export interface BudgetState {
  /** Host power budget in force, W. */
  readonly watts: number;
  readonly source: BudgetSource;
  /** When the leader last confirmed a budget (ms since epoch), if ever. */
  readonly leaderAt?: number;
}

export interface FrequencyCapState {
  /** Current cap (scaling_max_freq), kHz. */
  readonly capKHz: number;
  /** Hardware limits, kHz. */
  readonly minKHz: number;
  readonly maxKHz: number;
}

export interface PowerLimitKnobState {
  /** Active hardware limit (RAPL/DCMI), W; null when none is set. */
  readonly watts: number | null;
  readonly minWatts: number;
  readonly maxWatts: number;
}

export type SlaStatus = 'ok' | 'violated' | 'unknown';

export interface SlaState {
  readonly status: SlaStatus;
  /**
   * Headroom against the SLA target as a fraction of the target: 0.3 = 30 % room to spare,
   * 0 = at the limit, negative = violating. 0 when unknown.
   */
  readonly slack: number;
  /** When the last accepted report arrived (ms since epoch); undefined if none. */
  readonly reportedAt?: number;
  /** Accepted violation reports in the builder's window (bounded per VM). */
  readonly violations: number;
}

export interface VmSnapshot {
  readonly uuid: string;
  readonly name?: string;
  readonly vcpus: number;
  /** CPU use as a fraction of the VM's vCPUs (0..1). */
  readonly cpuUtil: number;
  readonly sla: SlaState;
  /** Scheduler parameters in force (shares, vCPU quota/period). */
  readonly scheduler: SchedulerParams;
  /** True while a migration request for this VM is open at the leader. */
  readonly migrationOpen: boolean;
}

export interface HostSnapshot {
  readonly host: string;
  /** Snapshot time, ms since epoch. */
  readonly at: number;
  /** The broker's control period, ms. */
  readonly periodMs: number;
  /** Latest power reading; undefined when the sensor never answered. */
  readonly power?: PowerSample;
  readonly budget: BudgetState;
  /** Host CPU utilisation at the current frequency, fraction 0..1 over all CPUs. */
  readonly cpuUtil: number;
  readonly cpus: number;
  readonly frequency: FrequencyCapState;
  readonly powerLimit?: PowerLimitKnobState;
  /** The host's power model (measured or from its SPECpower table), if known. */
  readonly powerModel?: PowerModel;
  /** Reliability score 0..1 (1 = no recent hardware errors). */
  readonly reliability: number;
  readonly leaderConnected: boolean;
  readonly vms: readonly VmSnapshot[];
}

/**
 * Knobs and their value units:
 * - set-frequency-cap: kHz, target = host
 * - set-power-limit: W, target = host
 * - set-vm-shares: cgroup CPU weight (unitless, 2..262144), target = VM uuid
 * - set-vm-quota: vCPU quota µs per 100 000 µs period, -1 = unlimited, target = VM uuid
 * - request-migration: W the host wants shed by moving this VM, target = VM uuid
 */
export type DecisionKind = 'set-frequency-cap' | 'set-power-limit' | 'set-vm-shares' | 'set-vm-quota' | 'request-migration';

export const DECISION_KINDS: readonly DecisionKind[] = ['set-frequency-cap', 'set-power-limit', 'set-vm-shares', 'set-vm-quota', 'request-migration'];

/** The quota period the set-vm-quota knob assumes, µs (libvirt's default vcpu_period). */
export const QUOTA_PERIOD_US = 100_000;

export interface Reason {
  /** Stable, machine-readable, e.g. "budget-exceeded", "sla-violation", "sensor-stale". */
  readonly code: string;
  /** Words for a human reading the log or journal. */
  readonly text: string;
}

export interface PredictedEffect {
  /** Host power expected after the change, W. */
  readonly watts?: number;
  /** Change of host power expected, W (negative = saving). */
  readonly deltaWatts?: number;
}

export interface Decision {
  readonly kind: DecisionKind;
  readonly target: string;
  readonly value: number;
  /** The policy that chose it. */
  readonly policy: string;
  readonly reason: Reason;
  readonly predicted: PredictedEffect;
  /** The few inputs that drove it (for the journal and the log), flat. */
  readonly inputs: Readonly<Record<string, number | string | boolean>>;
}

/** One knob = one kind on one target; the actuator's rails work per knob. */
export function knobKey(d: Pick<Decision, 'kind' | 'target'>): string {
  return `${d.kind}:${d.target}`;
}
