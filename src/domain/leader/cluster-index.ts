// Per-host aggregates of a ClusterState, built once in O(hosts + VMs) and then updated
// incrementally (addVm / removeVm) as placements and migrations are decided, so one placement is
// O(hosts) with small constants. Pure: no I/O, no clock.
// Units: CPU demand in cores, memory MiB, power W.
import { trustRank, type ClusterHost, type ClusterState, type ClusterVm, type VmRequest } from '../cluster.js';
import { ErrorCodes, VmanageError } from '../errors.js';

export interface HostLoad {
  readonly host: ClusterHost;
  readonly vms: ClusterVm[];
  /** Sum of the VMs' recent peak demand, cores. */
  peakCores: number;
  /** Sum of the VMs' last demand, cores. */
  nowCores: number;
  memoryMiB: number;
  /** trustRank of the host's trust level (cached: placement reads it for every host). */
  readonly trust: number;
  /** Measured minus modelled power at build time, W (0 without a reading): corrects the model. */
  wattsOffset: number;
  /** Affinity / anti-affinity group -> VMs of that group here ("a:" and "x:" prefixed). */
  readonly groups: Map<string, number>;
}

export interface ClusterIndex {
  readonly at: number;
  readonly loads: HostLoad[];
  readonly byHost: Map<string, HostLoad>;
  /** Affinity group -> host id holding most of its VMs (where a new member must go). */
  readonly affinityHome: Map<string, string>;
  /**
   * Optional: whether `vm` may run on `host` at all (e.g. a vCPU's peak must fit one of the
   * host's cores). Placement counts a host it refuses as `excluded`. Undefined: every host may.
   */
  readonly eligible?: (vm: VmRequest, host: ClusterHost) => boolean;
}

/** Demand of a VM at its recent peak, cores. */
export function peakCoresOf(vm: Pick<VmRequest, 'vcpus' | 'cpuPeak' | 'cpuUtil'>): number {
  return vm.vcpus * clamp01(Math.max(vm.cpuPeak, vm.cpuUtil));
}

export function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 1;
}

/** Predicted host power with `peakCores` of demand, W (the model saturates at 100 %). */
export function predictHostWatts(host: ClusterHost, peakCores: number): number {
  if (host.state === 'off') return 0;
  return host.attrs.powerModel.watts(clamp01(peakCores / host.attrs.cpus));
}

/**
 * Power predicted for a destination carrying `cores` of demand, W: the model, plus the amount the
 * last reading was above the model (never minus: a destination is judged conservatively).
 */
export function predictLoadWatts(load: HostLoad, cores: number): number {
  const h = load.host;
  return h.attrs.powerModel.watts(clamp01(cores / h.attrs.cpus)) + Math.max(0, load.wattsOffset);
}

export function buildIndex(state: ClusterState, eligible?: (vm: VmRequest, host: ClusterHost) => boolean): ClusterIndex {
  const loads: HostLoad[] = [];
  const byHost = new Map<string, HostLoad>();
  for (const host of state.hosts) {
    if (byHost.has(host.id)) throw new VmanageError(ErrorCodes.InvalidInput, `cluster state: host "${host.id}" listed twice`, { host: host.id });
    if (!(host.attrs.cpus > 0)) throw new VmanageError(ErrorCodes.InvalidInput, `cluster state: host "${host.id}" cpus: expected > 0, got ${host.attrs.cpus}`, { host: host.id });
    const load: HostLoad = { host, vms: [], peakCores: 0, nowCores: 0, memoryMiB: 0, trust: trustRank(host.attrs.trust), wattsOffset: 0, groups: new Map() };
    loads.push(load);
    byHost.set(host.id, load);
  }
  const index: ClusterIndex = { at: state.at, loads, byHost, affinityHome: new Map(), ...(eligible ? { eligible } : {}) };
  for (const vm of state.vms) {
    const load = byHost.get(vm.host);
    if (!load) throw new VmanageError(ErrorCodes.InvalidInput, `cluster state: VM "${vm.uuid}" on unknown host "${vm.host}"`, { vm: vm.uuid, host: vm.host });
    addVm(index, load, vm);
  }
  for (const load of loads) {
    const m = load.host.measuredWatts;
    if (m !== undefined && Number.isFinite(m) && load.host.state !== 'off') load.wattsOffset = m - load.host.attrs.powerModel.watts(clamp01(load.nowCores / load.host.attrs.cpus));
  }
  return index;
}

function bump(groups: Map<string, number>, key: string, by: number): void {
  const n = (groups.get(key) ?? 0) + by;
  if (n <= 0) groups.delete(key);
  else groups.set(key, n);
}

/** Records `vm` on `load` (the VM's own `host` field is not consulted). */
export function addVm(index: ClusterIndex, load: HostLoad, vm: ClusterVm): void {
  load.vms.push(vm);
  load.peakCores += peakCoresOf(vm);
  load.nowCores += vm.vcpus * clamp01(vm.cpuUtil);
  load.memoryMiB += vm.memoryMiB;
  if (vm.affinityGroup !== undefined) {
    bump(load.groups, `a:${vm.affinityGroup}`, 1);
    if (!index.affinityHome.has(vm.affinityGroup)) index.affinityHome.set(vm.affinityGroup, load.host.id);
  }
  if (vm.antiAffinityGroup !== undefined) bump(load.groups, `x:${vm.antiAffinityGroup}`, 1);
}

export function removeVm(index: ClusterIndex, load: HostLoad, uuid: string): ClusterVm | undefined {
  const i = load.vms.findIndex((v) => v.uuid === uuid);
  if (i < 0) return undefined;
  const [vm] = load.vms.splice(i, 1) as [ClusterVm];
  load.peakCores = Math.max(0, load.peakCores - peakCoresOf(vm));
  load.nowCores = Math.max(0, load.nowCores - vm.vcpus * clamp01(vm.cpuUtil));
  load.memoryMiB = Math.max(0, load.memoryMiB - vm.memoryMiB);
  if (vm.affinityGroup !== undefined) {
    bump(load.groups, `a:${vm.affinityGroup}`, -1);
    if (!load.groups.has(`a:${vm.affinityGroup}`) && index.affinityHome.get(vm.affinityGroup) === load.host.id) index.affinityHome.delete(vm.affinityGroup);
  }
  if (vm.antiAffinityGroup !== undefined) bump(load.groups, `x:${vm.antiAffinityGroup}`, -1);
  return vm;
}

/** Moves a VM between hosts in the index (after a decided migration). */
export function moveVm(index: ClusterIndex, from: HostLoad, to: HostLoad, uuid: string): ClusterVm | undefined {
  const vm = removeVm(index, from, uuid);
  if (vm) addVm(index, to, { ...vm, host: to.host.id });
  return vm;
}
