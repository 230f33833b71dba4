// The demo cluster's set-up, chosen from a workload (a PlanetLab day or the built-in synthetic
// one) by rule, not by hand: N hosts alternating the two HP ProLiant types of CloudSim's PlanetLab
// set-up (SPECpower tables), each with vmsPerHost one-vCPU VMs. The first host is the "hot" one:
// it gets the VMs whose traces rise most sharply (low for two steps, then high for a dozen), each
// trace starting where its rise begins, so the story (load rises -> SLA -> frequency -> budget ->
// cap -> repeated violations -> migration) happens within the first minute. The others get VMs
// with light, steady load (room to take a VM). Deterministic for a workload and seed.
import { seededRandom } from '../domain/clock.js';
import { ErrorCodes, VmanageError } from '../domain/errors.js';
import type { SpecPowerTableId } from '../domain/power-model.js';
import type { Workload } from '../sim/workload.js';
import type { WorldHostSpec, WorldVmSpec } from './world.js';

export interface DemoScenarioOptions {
  readonly hosts: number;
  readonly vmsPerHost: number;
  readonly workload: Workload;
  readonly seed?: number;
}

export interface DemoScenario {
  readonly hosts: readonly WorldHostSpec[];
  readonly vms: readonly WorldVmSpec[];
  /** The host where load rises. */
  readonly hot: string;
  /** Per-host budget the host daemons start with (before a leader splits the cluster's), W. */
  readonly budgets: Readonly<Record<string, number>>;
  /** Highest budget a host can use (its power feed), W, where lower than its peak: the hot host
   *  sits on a feed limited to its starting budget, so the leader cannot simply give it more. */
  readonly capWatts: Readonly<Record<string, number>>;
  readonly source: string;
}

/** CloudSim's two host types: 2 cores, MIPS per core, clock range (kHz), SPECpower table. */
const HOST_TYPES: readonly { table: SpecPowerTableId; mipsPerCore: number; minKHz: number; maxKHz: number; budgetWatts: number }[] = [
  { table: 'hp-proliant-ml110-g4', mipsPerCore: 1860, minKHz: 1_000_000, maxKHz: 1_860_000, budgetWatts: 104 },
  { table: 'hp-proliant-ml110-g5', mipsPerCore: 2660, minKHz: 1_200_000, maxKHz: 2_660_000, budgetWatts: 118 },
];
/** CloudSim's VM types (MIPS, MiB), held to 85 % of the smaller core so one vCPU can carry its peak. */
const VM_TYPES: readonly { mips: number; memoryMiB: number }[] = [
  { mips: 2500, memoryMiB: 870 }, { mips: 2000, memoryMiB: 1740 }, { mips: 1000, memoryMiB: 1740 }, { mips: 500, memoryMiB: 613 },
];
const MAX_VM_MIPS = Math.floor(1860 * 0.85);
const RISE = { low: 2, high: 12 };

function mean(a: ArrayLike<number>, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += a[i % a.length] ?? 0;
  return s / Math.max(1, to - from);
}

function rotate(a: ArrayLike<number>, start: number): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[(start + i) % a.length] ?? 0;
  return out;
}

/** Best rise of one trace: (score, start step). */
function bestRise(u: ArrayLike<number>): { score: number; start: number } {
  let best = { score: -Infinity, start: 0 };
  for (let s = 0; s + RISE.low + RISE.high < u.length; s++) {
    const before = mean(u, s, s + RISE.low);
    const after = mean(u, s + RISE.low, s + RISE.low + RISE.high);
    if (before > 0.45) continue;
    const score = after - before + Math.min(after, 0.9);
    if (score > best.score) best = { score, start: s };
  }
  return best;
}

/** A version-4-shaped UUID from a seeded random source (same scenario, same UUIDs). */
function uuidFrom(r: { next(): number }): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(r.next() * 16).toString(16));
  hex[12] = '4';
  hex[16] = ((parseInt(hex[16] as string, 16) & 0x3) | 0x8).toString(16);
  const h = hex.join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function buildScenario(o: DemoScenarioOptions): DemoScenario {
  const { workload: w } = o;
  if (!(o.hosts >= 2 && o.hosts <= 64)) throw new VmanageError(ErrorCodes.InvalidInput, `--hosts: expected 2..64, got ${o.hosts}`);
  if (!(o.vmsPerHost >= 1 && o.vmsPerHost <= 8)) throw new VmanageError(ErrorCodes.InvalidInput, `VMs per host: expected 1..8, got ${o.vmsPerHost}`);
  const need = o.hosts * o.vmsPerHost;
  if (w.utilisation.length < need * 2) throw new VmanageError(ErrorCodes.InvalidInput, `workload ${w.source}: ${w.utilisation.length} VMs, the demo needs at least ${need * 2}`);
  const hosts: WorldHostSpec[] = [];
  const budgets: Record<string, number> = {};
  for (let i = 0; i < o.hosts; i++) {
    const t = HOST_TYPES[i % 2] as (typeof HOST_TYPES)[number];
    const name = `host-${i + 1}`;
    hosts.push({ name, cpus: 2, mipsPerCore: t.mipsPerCore, table: t.table, minKHz: t.minKHz, maxKHz: t.maxKHz, memoryKiB: 4096 * 1024 });
    budgets[name] = t.budgetWatts;
  }
  const rises = w.utilisation.map((u, i) => ({ i, ...bestRise(u) })).sort((a, b) => b.score - a.score || a.i - b.i);
  const taken = new Set<number>();
  const vms: WorldVmSpec[] = [];
  const ids = seededRandom((o.seed ?? 1) * 7919);
  const add = (i: number, host: string, start: number, mips: number, memoryMiB: number): void => {
    taken.add(i);
    const n = vms.length + 1;
    vms.push({
      uuid: uuidFrom(ids), name: `vm-${String(n).padStart(2, '0')}`, host, vcpus: 1, mips: Math.min(MAX_VM_MIPS, mips),
      memoryKiB: memoryMiB * 1024, trace: rotate(w.utilisation[i] as Float64Array, start),
    });
  };
  const hot = hosts[0]?.name as string;
  for (const r of rises.slice(0, o.vmsPerHost)) add(r.i, hot, r.start, MAX_VM_MIPS, 1740);
  // Light, steady VMs for the other hosts: mean load 5-30 % over the first 20 steps.
  const rnd = seededRandom(o.seed ?? 1);
  const light = w.utilisation.map((u, i) => ({ i, m: mean(u, 0, 20) })).filter((x) => !taken.has(x.i) && x.m >= 0.05 && x.m <= 0.3);
  for (const h of hosts.slice(1)) {
    for (let k = 0; k < o.vmsPerHost; k++) {
      if (light.length === 0) throw new VmanageError(ErrorCodes.InvalidInput, `workload ${w.source}: not enough lightly loaded VMs for ${o.hosts} hosts`);
      const pick = light.splice(Math.floor(rnd.next() * light.length), 1)[0] as { i: number };
      const t = VM_TYPES[(vms.length + k) % VM_TYPES.length] as (typeof VM_TYPES)[number];
      add(pick.i, h.name, 0, t.mips, t.memoryMiB);
    }
  }
  return { hosts, vms, hot, budgets, capWatts: { [hot]: budgets[hot] as number }, source: w.source };
}
