// The baselines of Beloglazov & Buyya 2012 as CloudSim runs them: an overload detector, MMT VM
// selection (least RAM first = minimum migration time), PABFD placement (the host whose power
// grows least), and underload consolidation (empty the least-utilised host if all its VMs fit
// elsewhere on hosts that are on). Also NPA and DVFS (first fit, no migration).
import type { Datacenter } from '../datacenter.js';
import { Plan } from '../plan.js';
import type { OverloadDetector } from './detectors.js';
import type { Migration, SimPolicy } from './types.js';

function watts(dc: Datacenter, h: number, u: number): number {
  return dc.setup.hosts[h]?.power.watts(u > 1 ? 1 : u) ?? Infinity;
}

/** First host (in order) with a free core, CPU, RAM and bandwidth for the VM's full size. */
export function initialFirstFit(dc: Datacenter): number {
  const reserved = new Float64Array(dc.hostCount);
  let unplaced = 0;
  for (let v = 0; v < dc.vmCount; v++) {
    const s = dc.setup.vms[v];
    let placed = false;
    for (let h = 0; s && h < dc.hostCount; h++) {
      if (fitsFull(dc, reserved, v, h)) { reserved[h] = (reserved[h] ?? 0) + (s.mips); dc.place(v, h); placed = true; break; }
    }
    if (!placed) unplaced++;
  }
  return unplaced;
}

function fitsFull(dc: Datacenter, reserved: Float64Array, v: number, h: number): boolean {
  const s = dc.setup.vms[v];
  const hs = dc.setup.hosts[h];
  if (!s || !hs) return false;
  return hs.peMips >= s.mips && (dc.totalMips[h] as number) - (reserved[h] as number) >= s.mips
    && hs.ramMb - (dc.ramUsed[h] as number) >= s.ramMb && hs.bwKbps - (dc.bwUsed[h] as number) >= s.bwKbps;
}

/**
 * PABFD at creation: VMs reserve their full MIPS; the others are not running yet (demand 0),
 * so the overload check after allocation only sees the new VM at full size.
 */
export function initialPabfd(dc: Datacenter, threshold: number): number {
  const reserved = new Float64Array(dc.hostCount);
  let unplaced = 0;
  for (let v = 0; v < dc.vmCount; v++) {
    const mips = dc.setup.vms[v]?.mips ?? 0;
    let best = -1;
    let bestDiff = Infinity;
    for (let h = 0; h < dc.hostCount; h++) {
      if (!fitsFull(dc, reserved, v, h)) continue;
      const total = dc.totalMips[h] as number;
      if ((reserved[h] as number) !== 0 && mips / total > threshold) continue;
      const diff = watts(dc, h, ((reserved[h] as number) + mips) / total) - watts(dc, h, 0);
      if (diff < bestDiff) { bestDiff = diff; best = h; }
    }
    if (best < 0) { unplaced++; continue; }
    reserved[best] = (reserved[best] ?? 0) + (mips);
    dc.place(v, best);
  }
  return unplaced;
}

/** PABFD: the suitable, not excluded host whose power grows least (ties: lowest index). */
export function findHost(plan: Plan, detector: OverloadDetector, v: number, excluded: Uint8Array): number {
  const dc = plan.dc;
  const d = dc.demand[v] as number;
  let best = -1;
  let bestDiff = Infinity;
  for (let h = 0; h < dc.hostCount; h++) {
    if (excluded[h] || !plan.suitable(v, h)) continue;
    if ((plan.alloc[h] as number) !== 0 && detector.overloaded(plan, h, v)) continue;
    const total = dc.totalMips[h] as number;
    const diff = watts(dc, h, ((plan.alloc[h] as number) + d) / total) - watts(dc, h, plan.staleUtil[h] as number);
    if (diff < bestDiff) { bestDiff = diff; best = h; }
  }
  return best;
}

/** MMT: the VM with the least RAM (first in the host's list on ties). */
function mmt(plan: Plan, h: number): number {
  let best = -1;
  let ram = Infinity;
  for (const v of plan.vms[h] as number[]) {
    const r = plan.dc.setup.vms[v]?.ramMb ?? Infinity;
    if (r < ram) { ram = r; best = v; }
  }
  return best;
}

function byDemandDesc(dc: Datacenter, vms: number[]): number[] {
  return vms.slice().sort((a, b) => (dc.demand[b] as number) - (dc.demand[a] as number));
}

function overloadMigrations(plan: Plan, detector: OverloadDetector, overloaded: number[]): Migration[] {
  const dc = plan.dc;
  const toMove: number[] = [];
  for (const h of overloaded) {
    for (;;) {
      const v = mmt(plan, h);
      if (v < 0) break;
      toMove.push(v);
      plan.remove(v, h);
      if (!detector.overloaded(plan, h, -1)) break;
    }
  }
  const excluded = new Uint8Array(dc.hostCount);
  for (const h of overloaded) excluded[h] = 1;
  const out: Migration[] = [];
  for (const v of byDemandDesc(dc, toMove)) {
    const h = findHost(plan, detector, v, excluded);
    if (h < 0) continue;
    plan.add(v, h);
    out.push({ vm: v, target: h, reason: 'overload' });
  }
  return out;
}

function leastUtilised(plan: Plan, excluded: Uint8Array): number {
  let best = -1;
  let min = 1;
  for (let h = 0; h < plan.dc.hostCount; h++) {
    const u = plan.staleUtil[h] as number;
    if (!excluded[h] && u > 0 && u < min) { min = u; best = h; }
  }
  return best;
}

function underloadMigrations(plan: Plan, detector: OverloadDetector, overloaded: number[]): Migration[] {
  const n = plan.dc.hostCount;
  const notSource = new Uint8Array(n);
  const notTarget = new Uint8Array(n);
  for (const h of overloaded) { notSource[h] = 1; notTarget[h] = 1; }
  for (let h = 0; h < n; h++) if ((plan.staleUtil[h] as number) === 0) { notSource[h] = 1; notTarget[h] = 1; }
  const out: Migration[] = [];
  for (;;) {
    const h = leastUtilised(plan, notSource);
    if (h < 0) break;
    notSource[h] = 1;
    notTarget[h] = 1;
    const vms = byDemandDesc(plan.dc, plan.vms[h] as number[]);
    const moves: Migration[] = [];
    for (const v of vms) {
      const t = findHost(plan, detector, v, notTarget);
      if (t < 0) {
        for (const m of moves) plan.remove(m.vm, m.target);
        moves.length = 0;
        break;
      }
      plan.add(v, t);
      moves.push({ vm: v, target: t, reason: 'underload' });
    }
    for (const m of moves) notSource[m.target] = 1;
    out.push(...moves);
  }
  return out;
}

export function migrationPolicy(name: string, detector: OverloadDetector, initialThreshold: number): SimPolicy {
  return {
    name,
    initialPlacement: (dc) => initialPabfd(dc, initialThreshold),
    migrations(dc, ctx) {
      const plan = new Plan(dc, ctx.step);
      const overloaded: number[] = [];
      for (let h = 0; h < dc.hostCount; h++) if (detector.overloaded(plan, h, -1)) overloaded.push(h);
      const out = overloadMigrations(plan, detector, overloaded);
      return out.concat(underloadMigrations(plan, detector, overloaded));
    },
  };
}

export const npa: SimPolicy = { name: 'npa', nonPowerAware: true, initialPlacement: initialFirstFit, migrations: () => [] };
export const dvfs: SimPolicy = { name: 'dvfs', initialPlacement: initialFirstFit, migrations: () => [] };
