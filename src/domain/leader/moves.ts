// Building blocks shared by migration planning and consolidation: the pass's concurrency view,
// the cost of a move, the destination search and the decision record. Pure.
import type { ClusterVm, LeaderDecision, SlaClass } from '../cluster.js';
import { clamp01, peakCoresOf, predictLoadWatts, type ClusterIndex, type HostLoad } from './cluster-index.js';
import { placeVm, type Candidate, type PlacementResult } from './placement.js';
import type { MigrationLedger } from './stability.js';
import type { MigrationParams } from './migration.js';

export const POLICY_MIGRATION = 'leader-migration';

/** Pass-local view of the ledger plus this pass's own starts. */
export class PassLimits {
  private readonly added = new Map<string, number>();
  private total = 0;
  constructor(private readonly ledger: MigrationLedger, private readonly p: MigrationParams) {}
  hostFull(host: string): boolean {
    return this.ledger.inFlightCount(host) + (this.added.get(host) ?? 0) >= this.p.stability.maxPerHost;
  }
  clusterFull(): boolean {
    return this.ledger.inFlightCount() + this.total >= this.p.stability.maxPerCluster;
  }
  take(from: string, to: string): void {
    this.added.set(from, (this.added.get(from) ?? 0) + 1);
    this.added.set(to, (this.added.get(to) ?? 0) + 1);
    this.total++;
  }
}

/** Memory to copy, MiB, x the SLA class weight: pre-copy resends what is dirtied meanwhile. */
export function migrationCost(vm: ClusterVm, p: MigrationParams): number {
  const dirty = Math.min(0.9, Math.max(0, (vm.dirtyRateMiBps ?? 0) / p.linkMiBps));
  return (vm.memoryMiB / (1 - dirty)) * p.slaWeight[vm.sla as SlaClass];
}

/** Power now: the model at current use, corrected by the last reading, W. */
export function hostWattsNow(load: HostLoad): number {
  const h = load.host;
  return h.attrs.powerModel.watts(clamp01(load.nowCores / h.attrs.cpus)) + load.wattsOffset;
}

/** Finds a destination for `vm` leaving `from` under every rule, or undefined. */
export function destinationFor(index: ClusterIndex, vm: ClusterVm, from: HostLoad, ledger: MigrationLedger, hostFull: (id: string) => boolean, now: number, p: MigrationParams, alsoExclude?: ReadonlySet<string>): Candidate | undefined {
  const r = destinationSearch(index, vm, from, ledger, hostFull, now, p, alsoExclude);
  return r.ok ? r.chosen : undefined;
}

/** destinationFor with the placement's answer: on failure, how many hosts each filter refused. */
export function destinationSearch(index: ClusterIndex, vm: ClusterVm, from: HostLoad, ledger: MigrationLedger, hostFull: (id: string) => boolean, now: number, p: MigrationParams, alsoExclude?: ReadonlySet<string>): PlacementResult {
  const exclude = new Set<string>([from.host.id, ...ledger.recentlyLeft(vm.uuid, now, p.stability)]);
  if (alsoExclude) for (const h of alsoExclude) exclude.add(h);
  return placeVm(index, vm, p.placement, { has: (id: string) => exclude.has(id) || hostFull(id) });
}

export function migrateDecision(vm: ClusterVm, from: HostLoad, dest: Candidate, p: MigrationParams, code: string, why: string): LeaderDecision {
  const h = from.host;
  const fromCoresAfter = Math.max(0, from.nowCores - vm.vcpus * clamp01(vm.cpuUtil));
  const sourceWatts = h.attrs.powerModel.watts(clamp01(fromCoresAfter / h.attrs.cpus)) + from.wattsOffset;
  const destBefore = predictLoadWatts(dest.load, dest.load.peakCores);
  return {
    kind: 'migrate-vm', target: vm.uuid, value: vm.memoryMiB, from: h.id, to: dest.load.host.id, policy: POLICY_MIGRATION,
    reason: { code, text: `${why}; move ${vm.uuid} (${vm.memoryMiB} MiB, ${vm.sla}) to ${dest.load.host.id}: ${dest.wattsAfter.toFixed(0)} W of ${dest.load.host.budgetWatts.toFixed(0)} W, ${(dest.utilAfter * 100).toFixed(0)} % CPU at peak after the move` },
    predicted: { watts: round1(dest.wattsAfter), deltaWatts: round1(dest.wattsAfter - destBefore), destUtil: round3(dest.utilAfter), sourceWatts: round1(sourceWatts) },
    inputs: { vmPeakCores: round3(peakCoresOf(vm)), costMiB: round1(migrationCost(vm, p)), sourceBudgetWatts: h.budgetWatts, destBudgetWatts: dest.load.host.budgetWatts },
  };
}

export function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
