// Cluster state as the leader's policies see it: hosts with their registered attributes, power
// model, budget, reliability and trust, and the VMs on them. Pure data, filled by the leader
// daemon from host registrations and updates, and by the simulator from its simulated hosts.
// Units: watts (W), MiB, CPU in cores (1 core = one logical CPU fully busy), utilisation as a
// fraction, time in ms since the epoch (or ms for durations, as named).
import type { PowerModel } from './ports/power.js';
import type { PredictedEffect, Reason } from './model.js';

/**
 * Trust levels, ordered: a VM that requires `attested` runs only on `attested` hosts.
 * Configured per host, raised by measured signals (Secure Boot on and a TPM present).
 */
export const TRUST_LEVELS = ['untrusted', 'standard', 'trusted', 'attested'] as const;
export type TrustLevel = (typeof TRUST_LEVELS)[number];

export function trustRank(level: TrustLevel): number {
  return TRUST_LEVELS.indexOf(level);
}

/** `on` serves VMs; `draining` takes no new VM and is being emptied; the rest take nothing. */
export type HostPowerState = 'on' | 'draining' | 'powering-off' | 'off' | 'powering-on';

/** What a host registers with the leader (changes rarely). */
export interface HostAttributes {
  /** Logical CPUs. */
  readonly cpus: number;
  readonly memoryMiB: number;
  readonly powerModel: PowerModel;
  /** Highest budget the host can use (its BMC / RAPL cap range or peak power), W. */
  readonly capWatts: number;
  /** Lowest budget worth giving (at least idle power), W; defaults to the model's idle power. */
  readonly floorWatts?: number;
  /** Trust level configured for the host (see leader/registration.ts: effectiveTrust). */
  readonly trust: TrustLevel;
  /** Measured platform signals, when the host can read them. */
  readonly signals?: { readonly secureBoot?: boolean; readonly tpm?: boolean };
}

export interface ClusterHost {
  readonly id: string;
  readonly attrs: HostAttributes;
  readonly state: HostPowerState;
  /** Budget in force, W. */
  readonly budgetWatts: number;
  /** Last measured power, W (undefined: no reading yet). */
  readonly measuredWatts?: number;
  /** Reliability score 0..1 (1 = no recent hardware errors). */
  readonly reliability: number;
  /** When the host last changed power state (ms since epoch), for dwell rules. */
  readonly stateSince: number;
}

export type SlaClass = 'gold' | 'silver' | 'bronze';

export interface ClusterVm {
  readonly uuid: string;
  /** Host id the VM runs on. */
  readonly host: string;
  readonly vcpus: number;
  readonly memoryMiB: number;
  /** Last CPU use, fraction of its vCPUs. */
  readonly cpuUtil: number;
  /** Recent high CPU use over the window (e.g. p95 of the last 30 min), fraction of its vCPUs. */
  readonly cpuPeak: number;
  /** Guest memory dirtying rate, MiB/s, when the hypervisor reports it. */
  readonly dirtyRateMiBps?: number;
  readonly sla: SlaClass;
  /** Required host reliability score, 0..1. */
  readonly minReliability: number;
  readonly minTrust: TrustLevel;
  /** VMs of the same affinity group run on one host. */
  readonly affinityGroup?: string;
  /** VMs of the same anti-affinity group run on different hosts. */
  readonly antiAffinityGroup?: string;
}

export interface ClusterState {
  /** ms since epoch. */
  readonly at: number;
  readonly hosts: readonly ClusterHost[];
  readonly vms: readonly ClusterVm[];
}

/** A VM to place: a ClusterVm without a host yet. */
export type VmRequest = Omit<ClusterVm, 'host'>;

/**
 * Leader decisions. Units of `value`:
 * - place-vm: 0 (the destination is `to`), target = VM uuid
 * - migrate-vm: MiB of memory to copy, target = VM uuid, from `from` to `to`
 * - power-off-host / power-on-host: 0, target = host id
 * - set-host-budget: W, target = host id (or cluster id in the data-centre split)
 */
export type LeaderDecisionKind = 'place-vm' | 'migrate-vm' | 'power-off-host' | 'power-on-host' | 'set-host-budget';

export interface LeaderDecision {
  readonly kind: LeaderDecisionKind;
  readonly target: string;
  readonly value: number;
  readonly from?: string;
  readonly to?: string;
  readonly policy: string;
  readonly reason: Reason;
  /** For migrations and placements: predicted power of the destination (`watts`) and its change. */
  readonly predicted: PredictedEffect & {
    /** Destination CPU utilisation after the change, fraction. */
    readonly destUtil?: number;
    /** Source power after the move, W. */
    readonly sourceWatts?: number;
  };
  readonly inputs: Readonly<Record<string, number | string | boolean>>;
}

/** What a host sends when it registers (serialisable; the leader stores it as is). */
export interface HostRegistration {
  readonly id: string;
  readonly cpus: number;
  readonly memoryMiB: number;
  /** Measured or SPECpower average power at 0, 10, ..., 100 % load: 11 points, W. */
  readonly powerTableWatts: readonly number[];
  readonly capWatts: number;
  readonly floorWatts?: number;
  /** Trust level configured for the host (see leader/registration.ts: effectiveTrust). */
  readonly trust: TrustLevel;
  /** Measured platform signals, when the host can read them. */
  readonly signals?: { readonly secureBoot?: boolean; readonly tpm?: boolean };
}
