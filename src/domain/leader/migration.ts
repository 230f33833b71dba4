// Migration planning, on host requests (the MVM's `request-migration`, see
// policies/violation-trigger.ts) and in a periodic audit. Pure: the plan is computed on an index
// built from the state; the ledger is only read; time comes in as `now`.
//
// Which host is overloaded (source, judged on NOW, so a short peak does not start a move):
//   measured (or modelled) power > budget, or CPU use > overloadUtil; or it asked. A host over
//   overloadUtil whose VMs still get all they ask for (use under 98 % of its CPUs: measured use
//   saturates at capacity) is relieved only once it has stayed over for stability.overloadHoldMs
//   (a move is for a persistent overload, not for one peak the host absorbs); one saturated or
//   over budget is relieved at once.
// Which VM (CloudSim's minimum-migration-time idea, with SLA class): the one whose removal brings
//   the host under budget - margin and under overloadUtil with the least cost, cost = memory to
//   copy (inflated by the dirty rate) x SLA-class weight; if no single VM does it, the one that
//   sheds most watts per cost, repeated up to the per-host limit.
// Where (judged on the recent PEAK, so the move does not cause the next one): placement's
//   filters with cpuThreshold < overloadUtil (a gap, so a destination is not the next source),
//   budget - margin by the host's model, not a host it left within noReturnMs, not a host at its
//   concurrency limit; best placement score.
import { z } from 'zod';
import type { ClusterState, ClusterVm, LeaderDecision } from '../cluster.js';
import { buildIndex, clamp01, moveVm, type ClusterIndex, type HostLoad } from './cluster-index.js';
import { placementDefaults, placementParams } from './placement.js';
import { stabilityDefaults, stabilityParams, type MigrationLedger } from './stability.js';
import { PassLimits, destinationFor, hostWattsNow, migrateDecision, migrationCost } from './moves.js';
import { consolidate, consolidationDefaults, consolidationParams } from './consolidation.js';

export { POLICY_MIGRATION } from './moves.js';

export const migrationParams = z.object({
  /** Host CPU use (now) above which the host is overloaded, fraction; keep > placement.cpuThreshold. */
  overloadUtil: z.number().gt(0).max(1),
  /** Link speed the dirty rate is compared with, MiB/s. */
  linkMiBps: z.number().positive(),
  slaWeight: z.object({ gold: z.number().positive(), silver: z.number().positive(), bronze: z.number().positive() }).strict(),
  placement: placementParams,
  stability: stabilityParams,
  consolidation: consolidationParams,
}).strict().refine((p) => p.placement.cpuThreshold < p.overloadUtil, { message: 'placement.cpuThreshold must be below overloadUtil (a destination must not be the next source)', path: ['placement', 'cpuThreshold'] });

export type MigrationParams = z.infer<typeof migrationParams>;

export const migrationDefaults: MigrationParams = {
  overloadUtil: 0.9,
  linkMiBps: 1000,
  slaWeight: { gold: 3, silver: 2, bronze: 1 },
  placement: placementDefaults,
  stability: stabilityDefaults,
  consolidation: consolidationDefaults,
};

/** A host's request to move a VM away (from the MVM's request-migration decision). */
export interface MigrationRequest {
  readonly host: string;
  readonly vm: string;
  /** Watts the host wants shed, W. */
  readonly shedWatts: number;
}

export interface PlanStats {
  overloadedHosts: number;
  unresolvedHosts: number;
  /**
   * Of those, hosts where a VM free to move found no destination (more capacity would help:
   * consolidation powers a host on). Hosts unresolved only because their VMs are in cooldown
   * or in flight are not counted: powering a host on does not help them.
   */
  noDestinationHosts: number;
  /** Hosts over budget that would stay over budget - margin even empty (raise their budget). */
  budgetUnreachableHosts: number;
  blockedVms: number;
  requestsIgnored: number;
}

export interface Plan {
  readonly decisions: LeaderDecision[];
  readonly stats: PlanStats;
  /** The index after the planned moves (for the caller's next steps and for checks). */
  readonly index: ClusterIndex;
}

/** Power the host would draw with no VM left, W (idle + the unexplained part of the reading). */
function emptyWatts(load: HostLoad): number {
  return load.host.attrs.powerModel.watts(0) + load.wattsOffset;
}

/**
 * Watts over (budget - margin) and cores over overloadUtil, judged on current use. Watts count
 * only when moving VMs can remove them: if even the empty host stays over budget - margin, the
 * excess is the budget split's problem (or the power cap's), not a reason to move every VM.
 */
function excessOf(load: HostLoad, p: MigrationParams): { watts: number; cores: number } {
  const h = load.host;
  const target = h.budgetWatts - p.placement.budgetMarginWatts;
  return {
    watts: emptyWatts(load) > target ? 0 : hostWattsNow(load) - target,
    cores: load.nowCores - p.overloadUtil * h.attrs.cpus,
  };
}

function active(load: HostLoad): boolean {
  return load.host.state === 'on' || load.host.state === 'draining';
}

/** Over budget although an empty host would be under budget - margin: migration cannot help. */
function budgetUnreachable(load: HostLoad, p: MigrationParams): boolean {
  return active(load) && hostWattsNow(load) > load.host.budgetWatts && emptyWatts(load) > load.host.budgetWatts - p.placement.budgetMarginWatts;
}

function isOverloaded(load: HostLoad, p: MigrationParams): boolean {
  if (!active(load)) return false;
  const e = excessOf(load, p);
  return e.cores > 0 || (e.watts > 0 && hostWattsNow(load) > load.host.budgetWatts);
}

/**
 * Use at or above this fraction of a host's CPUs counts as short of CPU: measured use cannot
 * exceed the capacity, so a saturated host is the sign of demand it does not meet.
 */
const SATURATED = 0.98;

/**
 * An overload the host still absorbs (CPU over overloadUtil but not saturated, power within
 * budget) that has not lasted overloadHoldMs yet: no move this pass.
 */
function onHold(load: HostLoad, since: number, now: number, p: MigrationParams): boolean {
  if (now - since >= p.stability.overloadHoldMs) return false;
  const e = excessOf(load, p);
  const overBudget = e.watts > 0 && hostWattsNow(load) > load.host.budgetWatts;
  return !overBudget && load.nowCores < SATURATED * load.host.attrs.cpus;
}

/** Picks the VMs to move off an overloaded host and their destinations; updates the index. */
function relieveHost(index: ClusterIndex, load: HostLoad, preferred: string | undefined, ledger: MigrationLedger, limits: PassLimits, now: number, p: MigrationParams, stats: PlanStats, missed?: Set<string>): LeaderDecision[] {
  const out: LeaderDecision[] = [];
  const tried = new Set<string>();
  for (;;) {
    const excess = excessOf(load, p);
    const mustShed = out.length === 0 && preferred !== undefined;
    if ((excess.watts <= 0 && excess.cores <= 0 && !mustShed) || limits.hostFull(load.host.id) || limits.clusterFull()) break;
    const pick = chooseVm(load, excess, preferred, tried, ledger, now, p, stats);
    if (!pick) break;
    tried.add(pick.uuid);
    const dest = destinationFor(index, pick, load, ledger, (id) => limits.hostFull(id), now, p);
    if (!dest) {
      missed?.add(load.host.id);
      continue;
    }
    const why = preferred === pick.uuid ? `host ${load.host.id} asked to move it` : `host ${load.host.id} over budget or CPU threshold (${Math.max(0, excess.watts).toFixed(0)} W, ${Math.max(0, excess.cores).toFixed(1)} cores over)`;
    out.push(migrateDecision(pick, load, dest, p, preferred === pick.uuid ? 'host-request' : 'overload', why));
    limits.take(load.host.id, dest.load.host.id);
    moveVm(index, load, dest.load, pick.uuid);
  }
  return out;
}

function chooseVm(load: HostLoad, excess: { watts: number; cores: number }, preferred: string | undefined, tried: ReadonlySet<string>, ledger: MigrationLedger, now: number, p: MigrationParams, stats: PlanStats): ClusterVm | undefined {
  const h = load.host;
  const wattsNow = hostWattsNow(load);
  let single: ClusterVm | undefined;
  let singleCost = Infinity;
  let best: ClusterVm | undefined;
  let bestRatio = -Infinity;
  for (const vm of load.vms) {
    if (tried.has(vm.uuid)) continue;
    if (ledger.vmBlocked(vm.uuid, now, p.stability) !== undefined) {
      stats.blockedVms++;
      continue;
    }
    if (vm.uuid === preferred) return vm;
    const cores = vm.vcpus * clamp01(vm.cpuUtil);
    const shed = wattsNow - load.wattsOffset - h.attrs.powerModel.watts(clamp01((load.nowCores - cores) / h.attrs.cpus));
    const cost = migrationCost(vm, p);
    if (shed >= excess.watts && cores >= excess.cores && cost < singleCost) {
      single = vm;
      singleCost = cost;
    }
    const ratio = (shed + cores) / cost;
    if (ratio > bestRatio) {
      best = vm;
      bestRatio = ratio;
    }
  }
  return single ?? best;
}

/**
 * One full planning pass: host requests first (in order), then the audit of every host (most
 * watts over first), then consolidation. Returns decisions with reasons and predicted effect.
 */
export function planMigrations(state: ClusterState, requests: readonly MigrationRequest[], ledger: MigrationLedger, p: MigrationParams, eligible?: ClusterIndex['eligible']): Plan {
  const now = state.at;
  const index = buildIndex(state, eligible);
  const limits = new PassLimits(ledger, p);
  const stats: PlanStats = { overloadedHosts: 0, unresolvedHosts: 0, noDestinationHosts: 0, budgetUnreachableHosts: 0, blockedVms: 0, requestsIgnored: 0 };
  const missed = new Set<string>();
  const decisions: LeaderDecision[] = [];
  const touched = new Set<string>();
  for (const r of requests) {
    const load = index.byHost.get(r.host);
    if (!load || !load.vms.some((v) => v.uuid === r.vm) || touched.has(r.host)) {
      stats.requestsIgnored++;
      continue;
    }
    touched.add(r.host);
    decisions.push(...relieveHost(index, load, r.vm, ledger, limits, now, p, stats));
  }
  const over = index.loads.filter((l) => !touched.has(l.host.id) && isOverloaded(l, p));
  const since = ledger.noteOverloaded(over.map((l) => l.host.id), now);
  const overloaded = over.filter((l) => !onHold(l, since.get(l.host.id) ?? now, now, p));
  overloaded.sort((a, b) => excessOf(b, p).watts - excessOf(a, p).watts || (a.host.id < b.host.id ? -1 : 1));
  stats.overloadedHosts = overloaded.length;
  for (const l of index.loads) if (budgetUnreachable(l, p)) stats.budgetUnreachableHosts++;
  for (const load of overloaded) {
    if (limits.clusterFull()) break;
    const moved = relieveHost(index, load, undefined, ledger, limits, now, p, stats, missed);
    decisions.push(...moved);
    touched.add(load.host.id);
    if (isOverloaded(load, p)) {
      stats.unresolvedHosts++;
      if (missed.has(load.host.id)) stats.noDestinationHosts++;
    }
  }
  decisions.push(...consolidate(index, touched, stats.noDestinationHosts, ledger, limits, now, p));
  return { decisions, stats, index };
}
