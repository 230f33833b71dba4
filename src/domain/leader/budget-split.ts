// Splitting a power budget (W) among consumers: hosts of a cluster, or clusters of a data centre
// (a cluster is the aggregate of its hosts: aggregateConsumers). Pure and O(n log n).
//
// Contract, for a total T and consumers with floor f_i <= cap c_i and predicted demand d_i:
// 1. Everyone gets at least its floor (idle power, or a configured floor). If T < sum f_i the
//    floors are scaled down in proportion and `shortfallWatts` says by how much (a host cannot
//    run under its idle power: the caller must power hosts off).
// 2. Then up to its target t_i = clamp(d_i x (1 + marginFraction) + marginWatts, f_i, c_i), by
//    water-filling the extra above the floor: each gets min(t_i - f_i, L) with the level L
//    chosen so the sum is T (max-min fair: a small demand is met in full before a big one grows).
// 3. What is left goes up to the caps by the same water-filling, so no watt is held back.
// Hysteresis: with `previous` budgets, a consumer keeps its previous budget while the new one is
// within max(hysteresisWatts, hysteresisFraction x previous) of it, except a consumer whose previous budget is under its demand and
// whose new one is higher: a host short of power gets its raise at once. The kept budgets never
// sum above T: when they would, the consumers keeping the most above their new budget take the
// new one, largest excess first, until they fit (only those change, not every consumer).
import { z } from 'zod';
import { predictLoadWatts, type ClusterIndex } from './cluster-index.js';

export interface BudgetConsumer {
  readonly id: string;
  /** Lowest budget, W (idle power or a configured floor). */
  readonly floorWatts: number;
  /** Highest budget, W. */
  readonly capWatts: number;
  /** Predicted demand for the next period, W (e.g. recent peak). */
  readonly demandWatts: number;
}

export const budgetSplitParams = z.object({
  marginFraction: z.number().min(0),
  marginWatts: z.number().min(0),
  hysteresisWatts: z.number().min(0),
  /** Optional: the hysteresis band is also this fraction of the previous budget (default 0). */
  hysteresisFraction: z.number().min(0).max(1).optional(),
}).strict();

export type BudgetSplitParams = z.infer<typeof budgetSplitParams>;

export const budgetSplitDefaults: BudgetSplitParams = { marginFraction: 0.05, marginWatts: 5, hysteresisWatts: 5 };

export interface BudgetSplit {
  /** id -> budget, W. */
  readonly budgets: Map<string, number>;
  /** sum of floors - total when the total cannot cover every floor, else 0, W. */
  readonly shortfallWatts: number;
  /** Watts of the total not given to anyone (all at their caps), W. */
  readonly unusedWatts: number;
  /** Ids whose budget changed from `previous`. */
  readonly changed: string[];
}

/** Level L with sum min(need_i, L) = amount (need sorted ascending); Infinity if all fit. */
function waterLevel(needs: readonly number[], amount: number): number {
  const sorted = [...needs].sort((a, b) => a - b);
  let left = amount;
  for (let i = 0; i < sorted.length; i++) {
    const n = sorted[i] as number;
    const rest = sorted.length - i;
    if (n * rest >= left) return left / rest;
    left -= n;
  }
  return Infinity;
}

function fill(base: number[], needs: number[], amount: number): number {
  const level = waterLevel(needs, Math.max(0, amount));
  let given = 0;
  for (let i = 0; i < base.length; i++) {
    const g = Math.min(needs[i] as number, level);
    base[i] = (base[i] as number) + g;
    given += g;
  }
  return given;
}

function sane(x: number): number {
  return Number.isFinite(x) && x > 0 ? x : 0;
}

/**
 * The budgets after hysteresis: a consumer keeps its previous budget while the new one is within
 * max(hysteresisWatts, hysteresisFraction x previous) of it (not when short of power, see the header). Kept budgets above the new
 * ones may sum above the total: then the largest such excesses give way first, one consumer at
 * a time, until the sum fits (the others keep theirs: a binding total does not re-budget every
 * consumer). O(n log n).
 */
function withHysteresis(consumers: readonly BudgetConsumer[], alloc: readonly number[], floors: readonly number[], caps: readonly number[], total: number, p: BudgetSplitParams, previous: ReadonlyMap<string, number>): number[] {
  let sum = 0;
  const over: number[] = [];
  const fraction = p.hysteresisFraction ?? 0;
  const kept = alloc.map((a, i) => {
    const prev = previous.get((consumers[i] as BudgetConsumer).id);
    const shortOfPower = prev !== undefined && prev < sane((consumers[i] as BudgetConsumer).demandWatts) && a > prev;
    const keep = prev !== undefined && Math.abs(prev - a) < Math.max(p.hysteresisWatts, fraction * prev) && !shortOfPower && prev <= (caps[i] as number) && prev >= (floors[i] as number);
    const b = keep ? prev : a;
    if (b > a) over.push(i);
    sum += b;
    return b;
  });
  if (sum <= total + 1e-6) return kept;
  over.sort((x, y) => ((kept[y] as number) - (alloc[y] as number)) - ((kept[x] as number) - (alloc[x] as number)));
  for (const i of over) {
    if (sum <= total + 1e-6) break;
    sum -= (kept[i] as number) - (alloc[i] as number);
    kept[i] = alloc[i] as number;
  }
  return kept;
}

export function splitBudget(totalWatts: number, consumers: readonly BudgetConsumer[], p: BudgetSplitParams, previous?: ReadonlyMap<string, number>): BudgetSplit {
  const total = sane(totalWatts);
  const floors = consumers.map((c) => sane(c.floorWatts));
  const caps = consumers.map((c, i) => Math.max(floors[i] as number, sane(c.capWatts)));
  const sumFloors = floors.reduce((a, b) => a + b, 0);
  const alloc = floors.map((f) => (sumFloors > total ? (f * total) / sumFloors : f));
  const targets = consumers.map((c, i) => Math.min(caps[i] as number, Math.max(floors[i] as number, sane(c.demandWatts) * (1 + p.marginFraction) + p.marginWatts)));
  let left = total - alloc.reduce((a, b) => a + b, 0);
  if (left > 0) left -= fill(alloc, alloc.map((a, i) => Math.max(0, (targets[i] as number) - a)), left);
  if (left > 0) left -= fill(alloc, alloc.map((a, i) => Math.max(0, (caps[i] as number) - a)), left);
  const result = previous ? withHysteresis(consumers, alloc, floors, caps, total, p, previous) : alloc;
  const budgets = new Map<string, number>();
  const changed: string[] = [];
  consumers.forEach((c, i) => {
    // Rounded down to 0.1 W so the budgets never sum above the total.
    const w = Math.floor((result[i] as number) * 10 + 1e-9) / 10;
    budgets.set(c.id, w);
    if (previous?.get(c.id) !== w) changed.push(c.id);
  });
  return { budgets, shortfallWatts: Math.max(0, sumFloors - total), unusedWatts: Math.max(0, total - result.reduce((a, b) => a + b, 0)), changed };
}

/** A cluster as one consumer of a data-centre budget: the sums of its members. */
export function aggregateConsumers(id: string, members: readonly BudgetConsumer[]): BudgetConsumer {
  let floorWatts = 0;
  let capWatts = 0;
  let demandWatts = 0;
  for (const m of members) {
    floorWatts += sane(m.floorWatts);
    capWatts += Math.max(sane(m.floorWatts), sane(m.capWatts));
    demandWatts += sane(m.demandWatts);
  }
  return { id, floorWatts, capWatts, demandWatts };
}

/**
 * The hosts of a cluster as budget consumers: floor = configured floor or idle power, cap = the
 * host's cap, demand = the larger of the last reading and the model at the VMs' recent peak.
 * Hosts not on (off, powering off) get floor = cap = 0.
 */
export function hostConsumers(index: ClusterIndex): BudgetConsumer[] {
  return index.loads.map((l) => {
    const h = l.host;
    if (h.state === 'off' || h.state === 'powering-off') return { id: h.id, floorWatts: 0, capWatts: 0, demandWatts: 0 };
    const floorWatts = Math.max(h.attrs.floorWatts ?? 0, h.attrs.powerModel.idleWatts);
    const demandWatts = Math.max(h.measuredWatts ?? 0, predictLoadWatts(l, l.peakCores));
    return { id: h.id, floorWatts, capWatts: h.attrs.capWatts, demandWatts };
  });
}

/**
 * True when some consumer's demand moved by more than `shiftWatts` since the last split (or a
 * consumer came or went): the leader then splits again at once instead of waiting for its period.
 */
export function demandShifted(lastDemand: ReadonlyMap<string, number>, consumers: readonly BudgetConsumer[], shiftWatts: number): boolean {
  if (lastDemand.size !== consumers.length) return true;
  for (const c of consumers) {
    const prev = lastDemand.get(c.id);
    if (prev === undefined || Math.abs(prev - sane(c.demandWatts)) > shiftWatts) return true;
  }
  return false;
}

/**
 * The consumers that must go (be emptied and powered off) when the total cannot cover every
 * consumer's target (its predicted demand plus margin, as splitBudget computes it): shedding a
 * consumer removes its target but its dynamic demand (demand - floor) moves to the others, so
 * it saves target - max(0, demand - floor) (its idle power and margin; all of it when empty).
 * Consumers are shed in `order` (put the lightest first) until sum(targets) - savings <=
 * totalWatts. Empty when the total covers every target. Pure; the caller drains what it returns.
 */
export function consumersToShed(totalWatts: number, consumers: readonly BudgetConsumer[], p: BudgetSplitParams, order?: (a: BudgetConsumer, b: BudgetConsumer) => number): string[] {
  const targetOf = (c: BudgetConsumer): number => {
    const f = sane(c.floorWatts);
    return Math.min(Math.max(f, sane(c.capWatts)), Math.max(f, sane(c.demandWatts) * (1 + p.marginFraction) + p.marginWatts));
  };
  let need = -sane(totalWatts);
  for (const c of consumers) need += targetOf(c);
  const out: string[] = [];
  const sorted = order ? [...consumers].sort(order) : consumers;
  for (const c of sorted) {
    if (need <= 0) break;
    if (sane(c.floorWatts) <= 0) continue;
    out.push(c.id);
    need -= targetOf(c) - Math.max(0, sane(c.demandWatts) - sane(c.floorWatts));
  }
  return out;
}
