// What the Cluster Leader offers its interfaces (HTTP API, dashboard, vmanagectl through HTTP,
// the demo's narrator): read views of the cluster state and the operator's actions. The leader
// core (leader.ts) implements it; http.ts serves it; nothing else reaches into the core.
// Every action takes `dryRun`: the answer says what would happen, against the current state,
// and nothing changes. Units: W, MiB, fractions 0..1, ms since the Unix epoch.
import type { EventEmitter } from 'node:events';
import type { HostPowerState, LeaderDecisionKind, SlaClass, TrustLevel } from '../../domain/cluster.js';

export type LeaderRole = 'leader' | 'standby' | 'starting';

export interface LeaderStatus {
  readonly id: string;
  readonly role: LeaderRole;
  /** Fencing token of the current term (etcd election revision, or the SQLite term counter). */
  readonly token: number;
  /** Who leads now, when known (a standby names the leader). */
  readonly leaderId?: string;
  readonly uptimeS: number;
  readonly clusterBudgetWatts: number;
  /** Sum of the hosts' last measured power, W. */
  readonly clusterWatts: number;
  readonly hosts: { readonly total: number; readonly up: number; readonly draining: number; readonly off: number; readonly lost: number };
  readonly vms: number;
  readonly migrationsInFlight: number;
  /** Share of host-time with measured power over budget since the leader started, %. */
  readonly budgetViolationPct: number;
}

/** `lost`: no heartbeat within the failure-detection timeout (the host keeps its last budget). */
export type HostLiveness = 'up' | 'lost';

export interface HostView {
  readonly id: string;
  readonly liveness: HostLiveness;
  readonly state: HostPowerState;
  readonly cpus: number;
  readonly memoryMiB: number;
  readonly idleWatts: number;
  readonly peakWatts: number;
  readonly budgetWatts: number;
  readonly measuredWatts?: number;
  readonly budgetSource?: string;
  readonly capKHz?: number;
  readonly maxKHz?: number;
  readonly reliability: number;
  readonly trust: TrustLevel;
  readonly vms: number;
  readonly cpuUtil: number;
  readonly lastSeen: number;
  readonly migrationUri?: string;
}

export interface VmView {
  readonly uuid: string;
  readonly name?: string;
  readonly host: string;
  readonly vcpus: number;
  readonly memoryMiB: number;
  readonly cpuUtil: number;
  readonly sla: 'ok' | 'violated' | 'unknown';
  readonly slaClass: SlaClass;
  /** Least host reliability / trust the VM may run on, when its host reports them (optional). */
  readonly minReliability?: number;
  readonly minTrust?: TrustLevel;
  /** Set while the VM is being migrated. */
  readonly migratingTo?: string;
}

export interface BudgetView {
  readonly clusterWatts: number;
  readonly hosts: readonly { readonly host: string; readonly budgetWatts: number; readonly demandWatts: number; readonly measuredWatts?: number; readonly floorWatts: number; readonly capWatts: number }[];
  readonly lastSplitAt?: number;
}

export interface DecisionView {
  readonly id: number;
  readonly at: number;
  readonly kind: LeaderDecisionKind;
  readonly target: string;
  readonly value: number;
  readonly from?: string;
  readonly to?: string;
  readonly policy: string;
  readonly reason: { readonly code: string; readonly text: string };
  readonly predicted: Readonly<Record<string, number>>;
  readonly inputs: Readonly<Record<string, number | string | boolean>>;
  readonly token?: number;
  /** What happened: e.g. succeeded, failed, refused, dry-run. */
  readonly outcome?: string;
  readonly actual?: Readonly<Record<string, unknown>>;
}

export interface MigrationView {
  readonly id: number;
  readonly vm: string;
  readonly from: string;
  readonly to: string;
  readonly state: 'planned' | 'running' | 'succeeded' | 'failed' | 'aborted';
  readonly progress?: number;
  readonly startedAt: number;
  readonly endedAt?: number;
  readonly error?: string;
  readonly decisionId?: number;
}

export interface PlaceRequest {
  readonly name?: string;
  readonly vcpus: number;
  readonly memoryMiB: number;
  /** Expected CPU use, fraction of its vCPUs (default 0.5). */
  readonly cpuUtil?: number;
  readonly slaClass?: SlaClass;
  readonly minReliability?: number;
  readonly minTrust?: TrustLevel;
  readonly affinityGroup?: string;
  readonly antiAffinityGroup?: string;
  /** Libvirt domain XML of the VM (optional, untrusted: checked for size, well-formedness, a
   *  name, a UUID no VM of the cluster has); its vCPUs and memory must match vcpus / memoryMiB. */
  readonly xml?: string;
  /** With `xml`: the chosen host defines and starts the VM (leader.command create-vm), with the
   *  SLA class, minReliability and minTrust written into its vmanage metadata. */
  readonly create?: boolean;
}

export interface PlaceAnswer {
  readonly placed: boolean;
  readonly host?: string;
  /** Why this host (or why none): filters that rejected hosts, and the winner's score. */
  readonly reason: string;
  readonly decision?: DecisionView;
  readonly dryRun: boolean;
  /** With `create`: whether the chosen host created the VM (false: `reason` says why not). */
  readonly created?: boolean;
  /** The VM's UUID (the decision's target; from the XML, or chosen by the leader). */
  readonly vm?: string;
}

export interface ActionAnswer {
  readonly done: boolean;
  readonly dryRun: boolean;
  readonly reason: string;
  readonly decisions: readonly DecisionView[];
}

/** Live changes for the dashboard (SSE) and the demo's narration. */
export interface LeaderEvents {
  decision: [DecisionView];
  migration: [MigrationView];
  host: [HostView];
  /** Cluster power sample, once per leader tick. */
  power: [{ readonly at: number; readonly clusterWatts: number; readonly clusterBudgetWatts: number }];
  role: [{ readonly role: LeaderRole; readonly token: number }];
}

export interface LeaderApi {
  readonly events: EventEmitter<LeaderEvents>;
  status(): LeaderStatus;
  hosts(): readonly HostView[];
  vms(): readonly VmView[];
  budgets(): BudgetView;
  /** Sets the cluster power budget and re-splits it at once. */
  setClusterBudget(watts: number, opts: { dryRun: boolean }): Promise<ActionAnswer>;
  place(req: PlaceRequest, opts: { dryRun: boolean }): Promise<PlaceAnswer>;
  /** Migrates `vm` to `to`, or where the planner chooses when `to` is absent. */
  migrate(vm: string, to: string | undefined, opts: { dryRun: boolean }): Promise<ActionAnswer>;
  /** drain: no new VM, its VMs are moved away under the stability rules; undrain: back to on. */
  drain(host: string, opts: { dryRun: boolean }): Promise<ActionAnswer>;
  undrain(host: string, opts: { dryRun: boolean }): Promise<ActionAnswer>;
  /** One migration-planning (and consolidation) pass now; with dryRun the plan only. */
  plan(opts: { dryRun: boolean }): Promise<ActionAnswer>;
  decisions(q: { limit: number; before?: number }): readonly DecisionView[];
  /** One decision with its inputs, reason, predicted and actual outcome; undefined if unknown. */
  explain(id: number): DecisionView | undefined;
  migrations(q: { limit: number }): readonly MigrationView[];
  /** Asks the source host to abort running migration `id` (leader.command abort-migration);
   *  undefined when there is no such migration. Optional: an API without it answers 501. */
  abortMigration?(id: number, opts: { dryRun: boolean }): Promise<ActionAnswer | undefined>;
}
