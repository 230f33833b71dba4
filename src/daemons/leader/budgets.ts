// The cluster budget split over the hosts that are up and serving (on or draining), with the budget
// policy (domain splitBudget: floors, then demand by water-filling, then caps, with hysteresis
// against the budgets in force). Hosts that are lost or being powered off keep the budget they
// have (a lost host still runs under it until its own fail-safe): their watts are taken off the
// total first, so the budgets of all hosts never sum above the cluster budget.
// Demand per host = the larger of its last reading and its power model at its VMs' recent peak.
// Units: W.
import type { LeaderDecision } from '../../domain/cluster.js';
import { clamp01, type HostLoad } from '../../domain/leader/cluster-index.js';
import { hostConsumers, splitBudget, type BudgetConsumer, type BudgetSplitParams } from '../../domain/leader/budget-split.js';
import type { HostTable, LiveHost } from './hosts.js';

export const POLICY_BUDGET = 'leader-budget-split';

/**
 * The leader's hysteresis band as a fraction of a host's budget in force, when the configuration
 * does not set `hysteresisFraction`: a host's budget is re-sent when the split moves it by more
 * than max(hysteresisWatts, 10 % of it), or at once when the host is short of power (its budget
 * under its demand, which includes its last reading) and the split raises it, or when the kept
 * budgets would sum above the total. Damps the per-second churn of journaled decisions and
 * leader.budget messages (docs/leader-policies.md, Budgets).
 */
export const LEADER_HYSTERESIS_FRACTION = 0.1;

export interface SplitOutcome {
  readonly budgets: Map<string, number>;
  readonly consumers: BudgetConsumer[];
  /** Budgets of lost / powering-off hosts, kept and taken off the total, W. */
  readonly keptWatts: number;
  readonly totalWatts: number;
  readonly shortfallWatts: number;
  /** Hosts whose budget differs from the one in force. */
  readonly changed: string[];
}

export function serving(h: LiveHost): boolean {
  return h.liveness === 'up' && (h.state === 'on' || h.state === 'draining');
}

/** hostConsumers reads no affinity groups: one empty map for every host. */
const NO_GROUPS: HostLoad['groups'] = new Map();

/**
 * Budget consumers for the serving hosts (floor, cap, demand), in table order: the domain's
 * hostConsumers on per-host aggregates (the sums buildIndex makes, without building VM objects:
 * this runs every tick for every host).
 */
export function consumersOf(table: HostTable, now: number): BudgetConsumer[] {
  const loads: HostLoad[] = [];
  for (const h of table.hosts.values()) {
    if (!serving(h)) continue;
    let peakCores = 0;
    let nowCores = 0;
    let memoryMiB = 0;
    for (const v of h.vms.values()) {
      const peak = (v.peak ??= v.window.peak()) ?? v.cpuUtil;
      peakCores += v.vcpus * clamp01(Math.max(peak, v.cpuUtil));
      nowCores += v.vcpus * clamp01(v.cpuUtil);
      memoryMiB += v.memoryMiB;
    }
    // The live host is the ClusterHost table.clusterHost would copy (it is up: its measured power
    // counts), passed as is: no copy per host per tick.
    const m = h.measuredWatts;
    const wattsOffset = m !== undefined && Number.isFinite(m) ? m - h.attrs.powerModel.watts(clamp01(nowCores / h.attrs.cpus)) : 0;
    loads.push({ host: h, vms: [], peakCores, nowCores, memoryMiB, trust: 0, wattsOffset, groups: NO_GROUPS });
  }
  return hostConsumers({ at: now, loads, byHost: new Map(), affinityHome: new Map() });
}

/** consumers: consumersOf(table, now) when the caller has them already (the tick does). */
export function computeSplit(table: HostTable, clusterWatts: number, params: BudgetSplitParams, now: number, consumers = consumersOf(table, now)): SplitOutcome {
  let keptWatts = 0;
  const previous = new Map<string, number>();
  for (const h of table.hosts.values()) {
    if (serving(h)) previous.set(h.id, h.budgetWatts);
    else if (h.state !== 'off') keptWatts += h.budgetWatts;
  }
  const totalWatts = Math.max(0, clusterWatts - keptWatts);
  const damped = { ...params, hysteresisFraction: params.hysteresisFraction ?? LEADER_HYSTERESIS_FRACTION };
  const split = splitBudget(totalWatts, consumers, damped, previous);
  // splitBudget's changed: the consumers whose budget differs from `previous` (a new host has none).
  return { budgets: split.budgets, consumers, keptWatts, totalWatts, shortfallWatts: split.shortfallWatts, changed: split.changed };
}

export function budgetDecision(host: string, watts: number, previous: number, c: BudgetConsumer | undefined, s: SplitOutcome, code: string, why: string): LeaderDecision {
  return {
    kind: 'set-host-budget', target: host, value: watts, policy: POLICY_BUDGET,
    reason: { code, text: `${why}: ${host} gets ${watts.toFixed(1)} W (was ${previous.toFixed(1)} W; demand ${(c?.demandWatts ?? 0).toFixed(1)} W, floor ${(c?.floorWatts ?? 0).toFixed(1)} W, cap ${(c?.capWatts ?? 0).toFixed(1)} W) of ${s.totalWatts.toFixed(1)} W to split` },
    predicted: { watts, deltaWatts: Math.round((watts - previous) * 10) / 10 },
    inputs: {
      previousWatts: previous, demandWatts: Math.round((c?.demandWatts ?? 0) * 10) / 10, floorWatts: c?.floorWatts ?? 0, capWatts: c?.capWatts ?? 0,
      totalWatts: Math.round(s.totalWatts * 10) / 10, keptWatts: Math.round(s.keptWatts * 10) / 10, shortfallWatts: Math.round(s.shortfallWatts * 10) / 10,
    },
  };
}
