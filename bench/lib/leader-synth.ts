// Synthetic but realistic clusters for the leader benchmark: PlanetLab-like VM utilisation
// (most VMs light, a long tail of busy ones; recent peak 1.2-2x the current use), hosts of two
// SPECpower models with 16-32 CPUs, budgets near 90 % of the cap, a few hosts over budget, a
// few off. Deterministic for a seed.
import type { ClusterHost, ClusterState, ClusterVm, SlaClass, TrustLevel, VmRequest } from '../../src/domain/cluster.js';
import { seededRandom, type Random } from '../../src/domain/clock.js';
import { specPowerModel } from '../../src/domain/power-model.js';

const MODELS = [specPowerModel('hp-proliant-ml110-g4'), specPowerModel('hp-proliant-ml110-g5')];
const TRUST: TrustLevel[] = ['standard', 'standard', 'trusted', 'attested'];
const SLA: SlaClass[] = ['bronze', 'silver', 'silver', 'gold'];

function pick<T>(r: Random, xs: readonly T[]): T {
  return xs[Math.floor(r.next() * xs.length)] as T;
}

/** Light most of the time, a tail of busy VMs: u = x^3 with x uniform (mean 0.25). */
function util(r: Random): number {
  const x = r.next();
  return Math.min(1, x * x * x + 0.02);
}

/** A VM with its fields written out (not spread: V8 keeps such objects in a fast shape). */
export function syntheticClusterVm(r: Random, uuid: string, host: string): ClusterVm {
  const cpuUtil = util(r);
  return {
    uuid, host, vcpus: pick(r, [1, 1, 2, 2, 4]), memoryMiB: pick(r, [1024, 2048, 4096, 8192]), cpuUtil,
    cpuPeak: Math.min(1, cpuUtil * (1.2 + 0.8 * r.next())), dirtyRateMiBps: r.next() < 0.5 ? r.next() * 100 : undefined,
    sla: pick(r, SLA), minReliability: r.next() < 0.1 ? 0.9 : 0, minTrust: r.next() < 0.05 ? 'trusted' : 'untrusted',
    affinityGroup: undefined, antiAffinityGroup: r.next() < 0.05 ? `anti-${Math.floor(r.next() * 50)}` : undefined,
  };
}

/** A new VM to place (its `host` field is empty and ignored by placement). */
export function syntheticVm(r: Random, uuid: string): VmRequest {
  return syntheticClusterVm(r, uuid, '');
}

export function syntheticCluster(hosts: number, vmsPerHost: number, seed = 1, at = 86_400_000): ClusterState {
  const r = seededRandom(seed);
  const hs: ClusterHost[] = [];
  const vms: ClusterVm[] = [];
  for (let i = 0; i < hosts; i++) {
    const model = pick(r, MODELS);
    const off = r.next() < 0.03;
    const id = `host-${i}`;
    hs.push({
      id, state: off ? 'off' : 'on', stateSince: 0, reliability: r.next() < 0.05 ? 0.7 : 1,
      attrs: { cpus: pick(r, [16, 24, 32]), memoryMiB: 131_072, powerModel: model, capWatts: model.peakWatts, trust: pick(r, TRUST) },
      budgetWatts: model.peakWatts * (0.85 + 0.1 * r.next()),
      measuredWatts: undefined,
    });
    if (off) continue;
    for (let k = 0; k < vmsPerHost; k++) vms.push(syntheticClusterVm(r, `vm-${i}-${k}`, id));
  }
  // About 3 % of hosts read over their budget (a load spike the model does not see yet).
  for (const h of hs) if (h.state === 'on' && r.next() < 0.03) Object.assign(h, { measuredWatts: h.budgetWatts + 5 + 10 * r.next() });
  return { at, hosts: hs, vms };
}
