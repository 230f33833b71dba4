// `uncoordinated`: the "traditional" set-up the paper compares against. Three controllers that do
// not talk to each other:
// - an ondemand-style governor per host: the lowest frequency that keeps the host's CPU
//   utilisation at or below 80 % at that frequency (else full speed);
// - an independent per-host power cap: the cluster budget split equally over the hosts that are
//   on, enforced by lowering the frequency until the host's predicted power fits (RAPL-like);
// - utilisation-threshold migration: a host whose measured CPU utilisation exceeds 80 % sheds
//   its smallest-RAM VMs to the first host (in order) that stays under 80 %; no consolidation.
//   Utilisation is what the OS measures: busy time at the CURRENT frequency (demand / capacity
//   at the frequency the governor and the cap left), so a host the cap slowed down looks busier
//   to the migration manager, which knows nothing of the cap (the conflict the paper describes).
//   Until 2026-11-25 this used demand / full-speed capacity, which hid the cap from migration.
import type { Datacenter } from '../datacenter.js';
import { Plan } from '../plan.js';
import { initialFirstFit } from './cloudsim.js';
import type { Migration, SimPolicy, StepContext } from './types.js';

/** Frequency ratios the simulated hosts offer (f / f_max). */
export const FREQUENCY_LEVELS: readonly number[] = [0.5, 0.6, 0.7, 0.8, 0.9, 1];
const UP_THRESHOLD = 0.8;
const MIGRATION_THRESHOLD = 0.8;

function hostDemand(dc: Datacenter, h: number): number {
  let d = 0;
  const pe = dc.peMips[h] as number;
  for (const v of dc.hostVms[h] as number[]) d += Math.min(dc.demand[v] as number, pe);
  return d;
}

function watts(dc: Datacenter, h: number, demand: number, r: number): number {
  const u = demand / ((dc.totalMips[h] as number) * r);
  return dc.setup.hosts[h]?.power.watts(u > 1 ? 1 : u, r) ?? 0;
}

/** Governor then cap; returns how many hosts changed frequency. */
export function governAndCap(dc: Datacenter, ctx: StepContext): number {
  let on = 0;
  for (let h = 0; h < dc.hostCount; h++) if ((dc.hostVms[h] as number[]).length > 0) on++;
  const cap = ctx.budgetW !== undefined && on > 0 ? ctx.budgetW / on : Infinity;
  let changes = 0;
  for (let h = 0; h < dc.hostCount; h++) {
    const d = hostDemand(dc, h);
    const total = dc.totalMips[h] as number;
    let i = FREQUENCY_LEVELS.findIndex((r) => d <= UP_THRESHOLD * total * r);
    if (i < 0) i = FREQUENCY_LEVELS.length - 1;
    while (i > 0 && watts(dc, h, d, FREQUENCY_LEVELS[i] as number) > cap) i--;
    const r = FREQUENCY_LEVELS[i] as number;
    if (r !== dc.freqRatio[h]) changes++;
    dc.freqRatio[h] = r;
    dc.capWatts[h] = cap;
  }
  return changes;
}

function thresholdMigrations(dc: Datacenter, step: number): Migration[] {
  const plan = new Plan(dc, step);
  const over = (h: number, extra: number): boolean =>
    ((plan.demandSum[h] as number) + (extra >= 0 ? (dc.demand[extra] as number) : 0)) / ((dc.totalMips[h] as number) * (dc.freqRatio[h] as number)) > MIGRATION_THRESHOLD;
  const out: Migration[] = [];
  for (let h = 0; h < dc.hostCount; h++) {
    while (over(h, -1)) {
      const vms = plan.vms[h] as number[];
      if (vms.length <= 1) break;
      const v = vms.reduce((a, b) => ((dc.setup.vms[b]?.ramMb ?? 0) < (dc.setup.vms[a]?.ramMb ?? 0) ? b : a));
      let target = -1;
      for (let t = 0; t < dc.hostCount && target < 0; t++) if (t !== h && plan.suitable(v, t) && !over(t, v)) target = t;
      if (target < 0) break;
      plan.remove(v, h);
      plan.add(v, target);
      out.push({ vm: v, target, reason: 'utilisation above 80 %' });
    }
  }
  return out;
}

export const uncoordinated: SimPolicy = {
  name: 'uncoordinated',
  initialPlacement: initialFirstFit,
  // The governor reacts within milliseconds, the migration manager over minutes: it sees the
  // utilisation at the frequency the governor and the cap chose for the current demand.
  migrations: (dc, ctx) => {
    const before = dc.freqRatio.slice();
    governAndCap(dc, ctx);
    const out = thresholdMigrations(dc, ctx.step);
    dc.freqRatio.set(before); // control() applies (and counts) the step's frequencies
    return out;
  },
  control: governAndCap,
};
