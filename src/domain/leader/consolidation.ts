// Consolidation: empty lightly loaded hosts and power them off when the others can take their
// VMs within budget and CPU thresholds; power hosts on ahead of rising demand. Runs at the end of
// a planning pass (migration.ts) on the same index, ledger and concurrency limits. Pure.
//
// Empty: hosts `on` for at least minOnMs, peak use < underloadUtil, untouched by this pass,
//   lightest first, at most maxHostsPerPass; only when EVERY VM of the host has a destination
//   (trial moves are rolled back otherwise) and none is in cooldown, and the capacity left
//   (on hosts minus the ones being emptied) x cpuThreshold still covers the forecast demand
//   divided by powerOffUtil. Migrations start within the concurrency limits; the rest follow
//   in the next passes (an emptied host stays the lightest, so it is picked again first).
//   Not while the cluster's demand is rising (slope over trendWindowMs > 0, from the demand the
//   ledger saw at each pass): the capacity freed would soon be needed, and the VMs moved again.
// Power off: an `on` host with no VM, on for at least minOnMs, under the same capacity rule.
// Power on: when forecast demand / capacity of `on` hosts > powerOnUtil, or a host stayed
//   overloaded this pass for want of a destination (`unresolvedHosts` counts only those): `off` hosts (off for at least minOffMs), lowest idle W per CPU
//   first, until the capacity covers the forecast again. powerOffUtil < powerOnUtil.
// Forecast demand: the sum of the VMs' recent peaks x (1 + growthMargin), in cores.
import { z } from 'zod';
import type { LeaderDecision } from '../cluster.js';
import { moveVm, type ClusterIndex, type HostLoad } from './cluster-index.js';
import type { MigrationLedger } from './stability.js';
import type { MigrationParams } from './migration.js';
import { POLICY_MIGRATION, destinationFor, migrateDecision, round1, type PassLimits } from './moves.js';

export const consolidationParams = z.object({
  enabled: z.boolean(),
  /** A host below this peak use (fraction) is a candidate to empty. */
  underloadUtil: z.number().min(0).max(1),
  maxHostsPerPass: z.number().int().nonnegative(),
  /** Forecast / remaining capacity must stay below this after a power-off, fraction. */
  powerOffUtil: z.number().gt(0).max(1),
  /** Forecast / capacity above this powers a host on, fraction. */
  powerOnUtil: z.number().gt(0).max(1),
  growthMargin: z.number().min(0),
  /**
   * No host is emptied while the cluster's CPU demand rose over this window (least-squares
   * slope of the demand seen at each pass > 0), ms; 0 = no trend rule. Power-off of empty hosts
   * and power-on are not affected.
   */
  trendWindowMs: z.number().int().nonnegative(),
}).strict().refine((p) => p.powerOffUtil < p.powerOnUtil, { message: 'powerOffUtil must be below powerOnUtil (hysteresis)', path: ['powerOffUtil'] });

export type ConsolidationParams = z.infer<typeof consolidationParams>;

export const consolidationDefaults: ConsolidationParams = {
  enabled: true,
  underloadUtil: 0.3,
  maxHostsPerPass: 5,
  powerOffUtil: 0.7,
  powerOnUtil: 0.85,
  growthMargin: 0.1,
  trendWindowMs: 3_600_000,
};

interface Capacity {
  /** Usable cores of `on` hosts (cpus x cpuThreshold). */
  onCores: number;
  /** Forecast demand, cores. */
  demand: number;
  /** Demand now (sum of current use), cores. */
  nowDemand: number;
}

function capacityOf(index: ClusterIndex, p: MigrationParams): Capacity {
  let onCores = 0;
  let peak = 0;
  let nowDemand = 0;
  for (const l of index.loads) {
    if (l.host.state === 'on' || l.host.state === 'powering-on') onCores += l.host.attrs.cpus * p.placement.cpuThreshold;
    peak += l.peakCores;
    nowDemand += l.nowCores;
  }
  return { onCores, demand: peak * (1 + p.consolidation.growthMargin), nowDemand };
}

function powerDecision(kind: 'power-off-host' | 'power-on-host', load: HostLoad, code: string, text: string, cap: Capacity): LeaderDecision {
  const idle = load.host.attrs.powerModel.idleWatts;
  return {
    kind, target: load.host.id, value: 0, policy: POLICY_MIGRATION,
    reason: { code, text },
    predicted: { deltaWatts: round1(kind === 'power-off-host' ? -idle : idle) },
    inputs: { forecastCores: round1(cap.demand), capacityCores: round1(cap.onCores), hostCpus: load.host.attrs.cpus },
  };
}

/** Tries to move every VM of `load` away; keeps the moves only if all find a place. */
function emptyHost(index: ClusterIndex, load: HostLoad, emptying: ReadonlySet<string>, ledger: MigrationLedger, now: number, p: MigrationParams): LeaderDecision[] | undefined {
  if (load.vms.some((vm) => ledger.vmBlocked(vm.uuid, now, p.stability) !== undefined)) return undefined;
  const trial: { uuid: string; to: HostLoad }[] = [];
  const out: LeaderDecision[] = [];
  const why = `host ${load.host.id} lightly loaded (${((load.peakCores / load.host.attrs.cpus) * 100).toFixed(0)} % CPU at peak): empty it to power it off`;
  for (const vm of [...load.vms]) {
    const dest = destinationFor(index, vm, load, ledger, () => false, now, p, emptying);
    if (!dest) {
      for (const m of trial.reverse()) moveVm(index, m.to, load, m.uuid);
      return undefined;
    }
    out.push(migrateDecision(vm, load, dest, p, 'consolidation', why));
    trial.push({ uuid: vm.uuid, to: dest.load });
    moveVm(index, load, dest.load, vm.uuid);
  }
  return out;
}

export function consolidate(index: ClusterIndex, touched: ReadonlySet<string>, unresolvedHosts: number, ledger: MigrationLedger, limits: PassLimits, now: number, p: MigrationParams): LeaderDecision[] {
  const c = p.consolidation;
  const s = p.stability;
  const out: LeaderDecision[] = [];
  const cap = capacityOf(index, p);
  const trend = c.trendWindowMs > 0 ? ledger.demandTrend(now, cap.nowDemand, c.trendWindowMs) : 0;
  if (cap.demand > cap.onCores * c.powerOnUtil || unresolvedHosts > 0) return powerOn(index, cap, now, p, unresolvedHosts);
  if (!c.enabled) return out;
  // Emptying hosts waits while demand rises: the capacity would be needed again soon.
  const rising = trend > 0;
  const ready = (l: HostLoad): boolean => l.host.state === 'on' && now - l.host.stateSince >= s.minOnMs && !touched.has(l.host.id) && ledger.inFlightCount(l.host.id) === 0;
  const enoughLeft = (l: HostLoad): boolean => cap.demand <= (cap.onCores - l.host.attrs.cpus * p.placement.cpuThreshold) * c.powerOffUtil;
  // Hosts powered off or being emptied in this pass: never a destination.
  const leaving = new Set<string>();
  for (const l of index.loads) {
    if (l.vms.length === 0 && ready(l) && enoughLeft(l)) {
      out.push(powerDecision('power-off-host', l, 'empty-host', `host ${l.host.id} has no VM: power it off`, cap));
      cap.onCores -= l.host.attrs.cpus * p.placement.cpuThreshold;
      leaving.add(l.host.id);
    }
  }
  const candidates = index.loads
    .filter((l) => l.vms.length > 0 && ready(l) && l.peakCores < c.underloadUtil * l.host.attrs.cpus)
    .sort((a, b) => a.peakCores / a.host.attrs.cpus - b.peakCores / b.host.attrs.cpus || (a.host.id < b.host.id ? -1 : 1));
  let emptied = 0;
  for (const l of candidates) {
    if (emptied >= c.maxHostsPerPass || limits.clusterFull() || rising) break;
    if (!enoughLeft(l)) continue;
    leaving.add(l.host.id);
    const moves = emptyHost(index, l, leaving, ledger, now, p);
    if (!moves) {
      leaving.delete(l.host.id);
      continue;
    }
    emptied++;
    cap.onCores -= l.host.attrs.cpus * p.placement.cpuThreshold;
    for (const m of moves) {
      if (limits.hostFull(l.host.id) || limits.hostFull(m.to as string) || limits.clusterFull()) break;
      limits.take(l.host.id, m.to as string);
      out.push(m);
    }
  }
  return out;
}

function powerOn(index: ClusterIndex, cap: Capacity, now: number, p: MigrationParams, unresolvedHosts: number): LeaderDecision[] {
  const out: LeaderDecision[] = [];
  const off = index.loads
    .filter((l) => l.host.state === 'off' && now - l.host.stateSince >= p.stability.minOffMs)
    .sort((a, b) => a.host.attrs.powerModel.idleWatts / a.host.attrs.cpus - b.host.attrs.powerModel.idleWatts / b.host.attrs.cpus || (a.host.id < b.host.id ? -1 : 1));
  let need = unresolvedHosts > 0 ? 1 : 0;
  for (const l of off) {
    const short = cap.demand > cap.onCores * p.consolidation.powerOnUtil;
    if (!short && need <= 0) break;
    const text = short
      ? `forecast ${cap.demand.toFixed(0)} cores > ${(p.consolidation.powerOnUtil * 100).toFixed(0)} % of ${cap.onCores.toFixed(0)} usable cores: power host ${l.host.id} on ahead of demand`
      : `${unresolvedHosts} host(s) still overloaded with no destination: power host ${l.host.id} on`;
    out.push(powerDecision('power-on-host', l, short ? 'forecast-demand' : 'no-destination', text, cap));
    cap.onCores += l.host.attrs.cpus * p.placement.cpuThreshold;
    need--;
  }
  return out;
}
