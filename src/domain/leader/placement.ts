// Placement of a new VM (and the destination check migration planning reuses): filters, then a
// score. One pass over the hosts, no allocation per host: O(hosts) with small constants.
//
// Filters, in this order (a host is counted under the first one it fails):
//   excluded     the caller ruled it out (migration source, a host it left recently, limits)
//   state        not `on` (draining, powering off/on, off)
//   memory       used + the VM's memory > host memory
//   cpu          peak demand after placement > cpuThreshold x cpus (predicted over the window)
//   reliability  host score < the VM's requirement
//   trust        host trust level < the VM's requirement
//   affinity     the VM's affinity group lives on another host
//   anti-affinity a VM of its anti-affinity group is already here
//   budget       power predicted by the host's model at peak demand after placement
//                > budget - budgetMarginWatts
// Score (higher wins; ties go to the lower host id):
//   consolidation x utilisation after (fuller hosts first, so others can be powered off)
// + headroom x (budget - predicted W) / budget
// - risk x max(0, u_after - riskUtil) / (1 - riskUtil)   (predicted SLA risk from CPU pressure)
import { z } from 'zod';
import { trustRank, type VmRequest } from '../cluster.js';
import { peakCoresOf, predictLoadWatts, type ClusterIndex, type HostLoad } from './cluster-index.js';

export const placementParams = z.object({
  /** Highest predicted CPU utilisation after placement, fraction of the host's CPUs. */
  cpuThreshold: z.number().gt(0).max(1),
  /** Predicted power must stay this far under the host budget, W. */
  budgetMarginWatts: z.number().min(0),
  /** Utilisation above which SLA risk starts to count, fraction. */
  riskUtil: z.number().min(0).lt(1),
  weights: z.object({ consolidation: z.number().min(0), headroom: z.number().min(0), risk: z.number().min(0) }).strict(),
  /**
   * Also require room for any ONE of the host's VMs (the new one included) to run at its full
   * size while the others stay at their peaks: peak cores + the largest (full - peak) gap <= the
   * host's CPUs. A VM that bursts to its full vCPU then does not overload its host. Absent = off
   * (the default: with many-vCPU VMs it is very conservative; the simulator turns it on).
   */
  burstHeadroom: z.boolean().optional(),
}).strict();

export type PlacementParams = z.infer<typeof placementParams>;

export const placementDefaults: PlacementParams = {
  cpuThreshold: 0.8,
  budgetMarginWatts: 10,
  riskUtil: 0.7,
  weights: { consolidation: 1, headroom: 0.5, risk: 2 },
};

export const PLACEMENT_FILTERS = ['excluded', 'state', 'memory', 'cpu', 'reliability', 'trust', 'affinity', 'anti-affinity', 'budget'] as const;
export type PlacementFilter = (typeof PLACEMENT_FILTERS)[number];
export type Rejections = Record<PlacementFilter, number>;

export interface Candidate {
  readonly load: HostLoad;
  readonly score: number;
  /** Predicted host power after placement, W. */
  readonly wattsAfter: number;
  /** Predicted CPU utilisation after placement (at peak demand), fraction. */
  readonly utilAfter: number;
}

export type PlacementResult =
  | { readonly ok: true; readonly chosen: Candidate; readonly reason: string; readonly rejections: Rejections; readonly considered: number }
  | { readonly ok: false; readonly reason: string; readonly rejections: Rejections; readonly considered: number };

export function emptyRejections(): Rejections {
  return { excluded: 0, state: 0, memory: 0, cpu: 0, reliability: 0, trust: 0, affinity: 0, 'anti-affinity': 0, budget: 0 };
}

/**
 * The first filter `load` fails for `vm`, or undefined when it passes all of them. `extraCores`
 * and `extraMiB` are already committed to the host by decisions of the same pass.
 */
export function failedFilter(load: HostLoad, vm: VmRequest, vmCores: number, vmTrust: number, index: ClusterIndex, p: PlacementParams, wattsOut?: { watts: number; util: number }): PlacementFilter | undefined {
  const h = load.host;
  if (h.state !== 'on') return 'state';
  if (load.memoryMiB + vm.memoryMiB > h.attrs.memoryMiB) return 'memory';
  const cores = load.peakCores + vmCores;
  const util = cores / h.attrs.cpus;
  if (util > p.cpuThreshold) return 'cpu';
  if (p.burstHeadroom === true && cores + largestGap(load, vm) > h.attrs.cpus) return 'cpu';
  if (h.reliability < vm.minReliability) return 'reliability';
  if (load.trust < vmTrust) return 'trust';
  if (vm.affinityGroup !== undefined) {
    const home = index.affinityHome.get(vm.affinityGroup);
    if (home !== undefined && home !== h.id) return 'affinity';
  }
  if (vm.antiAffinityGroup !== undefined && load.groups.has(`x:${vm.antiAffinityGroup}`)) return 'anti-affinity';
  const watts = predictLoadWatts(load, cores);
  if (watts > h.budgetWatts - p.budgetMarginWatts) return 'budget';
  if (wattsOut) {
    wattsOut.watts = watts;
    wattsOut.util = util;
  }
  return undefined;
}

/** The largest (full size - planned peak) of the host's VMs and `vm`, cores. */
function largestGap(load: HostLoad, vm: VmRequest): number {
  let gap = vm.vcpus - peakCoresOf(vm);
  for (const v of load.vms) gap = Math.max(gap, v.vcpus - peakCoresOf(v));
  return gap;
}

export function scoreOf(budgetWatts: number, wattsAfter: number, utilAfter: number, p: PlacementParams): number {
  const headroom = budgetWatts > 0 ? (budgetWatts - wattsAfter) / budgetWatts : 0;
  const risk = Math.max(0, utilAfter - p.riskUtil) / (1 - p.riskUtil);
  return p.weights.consolidation * utilAfter + p.weights.headroom * headroom - p.weights.risk * risk;
}

/**
 * Best host for `vm`, skipping hosts in `exclude` (by id). Does not change the index.
 * The loop is failedFilter and scoreOf written out with the parameters hoisted: it runs for every
 * host on every placement (the property test checks it against the filters).
 */
export function placeVm(index: ClusterIndex, vm: VmRequest, p: PlacementParams, exclude?: { has(id: string): boolean }): PlacementResult {
  const rejections = emptyRejections();
  const vmCores = peakCoresOf(vm);
  const vmTrust = trustRank(vm.minTrust);
  const vmMem = vm.memoryMiB;
  const minRel = vm.minReliability;
  const aff = vm.affinityGroup;
  const home = aff !== undefined ? index.affinityHome.get(aff) : undefined;
  const antiKey = vm.antiAffinityGroup !== undefined ? `x:${vm.antiAffinityGroup}` : undefined;
  const { cpuThreshold, budgetMarginWatts: margin, riskUtil } = p;
  const burst = p.burstHeadroom === true;
  const { consolidation: wc, headroom: wh, risk: wr } = p.weights;
  let best: HostLoad | undefined;
  let bestScore = -Infinity;
  let bestWatts = 0;
  let bestUtil = 0;
  let excluded = 0, state = 0, memory = 0, cpu = 0, reliability = 0, trust = 0, affinity = 0, anti = 0, budget = 0;
  const loads = index.loads;
  for (let i = 0; i < loads.length; i++) {
    const load = loads[i] as HostLoad;
    const h = load.host;
    if ((exclude !== undefined && exclude.has(h.id)) || (index.eligible !== undefined && !index.eligible(vm, h))) { excluded++; continue; }
    if (h.state !== 'on') { state++; continue; }
    const attrs = h.attrs;
    if (load.memoryMiB + vmMem > attrs.memoryMiB) { memory++; continue; }
    const cores = load.peakCores + vmCores;
    const util = cores / attrs.cpus;
    if (util > cpuThreshold || (burst && cores + largestGap(load, vm) > attrs.cpus)) { cpu++; continue; }
    if (h.reliability < minRel) { reliability++; continue; }
    if (load.trust < vmTrust) { trust++; continue; }
    if (home !== undefined && home !== h.id) { affinity++; continue; }
    if (antiKey !== undefined && load.groups.has(antiKey)) { anti++; continue; }
    const watts = predictLoadWatts(load, cores);
    const b = h.budgetWatts;
    if (watts > b - margin) { budget++; continue; }
    const score = wc * util + wh * (b > 0 ? (b - watts) / b : 0) - wr * (util > riskUtil ? (util - riskUtil) / (1 - riskUtil) : 0);
    if (best === undefined || score > bestScore || (score === bestScore && h.id < best.host.id)) {
      best = load;
      bestScore = score;
      bestWatts = watts;
      bestUtil = util;
    }
  }
  Object.assign(rejections, { excluded, state, memory, cpu, reliability, trust, affinity, 'anti-affinity': anti, budget });
  const considered = loads.length;
  if (!best) return { ok: false, reason: `no host passes the filters (${describeRejections(rejections)})`, rejections, considered };
  const chosen: Candidate = { load: best, score: bestScore, wattsAfter: bestWatts, utilAfter: bestUtil };
  const reason = `host ${best.host.id}: ${(bestUtil * 100).toFixed(0)} % CPU at peak and ${bestWatts.toFixed(0)} W of ${best.host.budgetWatts.toFixed(0)} W budget after placement; rejected: ${describeRejections(rejections)}`;
  return { ok: true, chosen, reason, rejections, considered };
}

export function describeRejections(r: Rejections): string {
  const parts = PLACEMENT_FILTERS.filter((f) => r[f] > 0).map((f) => `${f} ${r[f]}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}
