// Builders for cluster states in the leader tests and the leader benchmark's small cases.
import type { ClusterHost, ClusterState, ClusterVm, HostAttributes, VmRequest } from '../../src/domain/cluster.js';
import { specPowerModel } from '../../src/domain/power-model.js';

/** HP ProLiant ML110 G5: 93.7 W idle, 135 W at 100 %. */
export const G5 = specPowerModel('hp-proliant-ml110-g5');

export function attrs(over: Partial<HostAttributes> = {}): HostAttributes {
  return { cpus: 8, memoryMiB: 32_768, powerModel: G5, capWatts: 135, trust: 'standard', ...over };
}

export function host(id: string, over: Partial<ClusterHost> = {}): ClusterHost {
  return { id, attrs: attrs(), state: 'on', budgetWatts: 130, reliability: 1, stateSince: 0, ...over };
}

export function vm(uuid: string, hostId: string, over: Partial<ClusterVm> = {}): ClusterVm {
  return { uuid, host: hostId, vcpus: 2, memoryMiB: 2048, cpuUtil: 0.5, cpuPeak: 0.5, sla: 'silver', minReliability: 0, minTrust: 'untrusted', ...over };
}

export function request(uuid: string, over: Partial<VmRequest> = {}): VmRequest {
  const { host: _h, ...rest } = vm(uuid, '-', over);
  return rest;
}

export function state(hosts: ClusterHost[], vms: ClusterVm[], at = 10 * 3_600_000): ClusterState {
  return { at, hosts, vms };
}
