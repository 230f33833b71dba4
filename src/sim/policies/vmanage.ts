// `vmanage`: the production host policies (src/domain/policies: the paper's SLA-aware DVFS and the
// budget controller) run UNCHANGED for every host on an injected ManualClock, fed snapshots built
// from the simulated state; the cluster budget is split among the hosts that are on with the
// leader's water-filling split (src/domain/leader/budget-split.ts). Placement and migrations:
// PABFD with LR overload detection and underload consolidation (the machinery of the baselines),
// until the leader's own migration planner is wired in here.
// The host policies decide every `periodMs` of simulated time: ITERATIONS times per trace step,
// with the demand of that step (the traces have one sample per 300 s).
import { ManualClock } from '../../domain/clock.js';
import { budgetSplitDefaults, splitBudget, type BudgetConsumer } from '../../domain/leader/budget-split.js';
import type { Decision, HostSnapshot, VmSnapshot } from '../../domain/model.js';
import { budgetPolicy, slaDvfsPolicy, type Policy } from '../../domain/policies/index.js';
import type { Datacenter } from '../datacenter.js';
import { migrationPolicy } from './cloudsim.js';
import { lrDetector } from './detectors.js';
import type { SimPolicy, StepContext } from './types.js';

const ITERATIONS = 10;
const MIN_RATIO = 0.5;

interface HostControllers { dvfs: Policy<unknown>; budget: Policy<unknown> }

function hostDemand(dc: Datacenter, h: number): number {
  let d = 0;
  for (const v of dc.hostVms[h] as number[]) d += dc.demand[v] as number;
  return d;
}

function wattsAt(dc: Datacenter, h: number, demand: number, r: number): number {
  const u = demand / ((dc.totalMips[h] as number) * r);
  return dc.setup.hosts[h]?.power.watts(u > 1 ? 1 : u, r) ?? 0;
}

function snapshot(dc: Datacenter, h: number, now: number, periodMs: number, budgetW: number): HostSnapshot {
  const spec = dc.setup.hosts[h];
  const maxKHz = (dc.peMips[h] as number) * 1000; // 1 MIPS per MHz
  const r = dc.freqRatio[h] as number;
  const demand = hostDemand(dc, h);
  const capacity = (dc.totalMips[h] as number) * r;
  const hostSlack = demand > 0 ? (capacity - demand) / demand : 1;
  const vms: VmSnapshot[] = (dc.hostVms[h] as number[]).map((v) => {
    const d = dc.demand[v] as number;
    const slack = d > 0 ? Math.min(hostSlack, ((dc.peMips[h] as number) * r - d) / d) : 1;
    return {
      uuid: `vm-${v}`, vcpus: 1, cpuUtil: d / (dc.setup.vms[v]?.mips ?? 1), scheduler: {}, migrationOpen: false,
      sla: { status: slack < 0 ? 'violated' : 'ok', slack, reportedAt: now, violations: slack < 0 ? 1 : 0 },
    };
  });
  return {
    host: `host-${h}`, at: now, periodMs,
    power: { watts: wattsAt(dc, h, demand, r), ageMs: 0, stale: false, source: 'sim' },
    budget: { watts: budgetW, source: 'leader', leaderAt: now },
    cpuUtil: Math.min(1, demand / capacity), cpus: spec?.pes ?? 1,
    frequency: { capKHz: Math.round(r * maxKHz), minKHz: Math.round(MIN_RATIO * maxKHz), maxKHz },
    ...(spec ? { powerModel: spec.power } : {}),
    reliability: 1, leaderConnected: true, vms,
  };
}

function capOf(decisions: readonly Decision[]): number | undefined {
  return decisions.find((d) => d.kind === 'set-frequency-cap')?.value;
}

export function vmanagePolicy(): SimPolicy {
  const clock = new ManualClock(0);
  const controllers = new Map<number, HostControllers>();
  const inner = migrationPolicy('vmanage', lrDetector('lr-1.2', 1.2), 0.7);
  let previous: Map<string, number> | undefined;

  function budgets(dc: Datacenter, ctx: StepContext): Float64Array {
    const out = new Float64Array(dc.hostCount).fill(Infinity);
    if (ctx.budgetW === undefined) {
      for (let h = 0; h < dc.hostCount; h++) out[h] = (dc.setup.hosts[h]?.power.peakWatts ?? 0) + 50;
      return out;
    }
    const consumers: BudgetConsumer[] = [];
    for (let h = 0; h < dc.hostCount; h++) {
      const spec = dc.setup.hosts[h];
      if (!spec || (dc.hostVms[h] as number[]).length === 0) continue;
      consumers.push({ id: String(h), floorWatts: spec.power.idleWatts, capWatts: spec.power.peakWatts, demandWatts: wattsAt(dc, h, hostDemand(dc, h), 1) });
    }
    const split = splitBudget(ctx.budgetW, consumers, budgetSplitDefaults, previous);
    previous = split.budgets;
    for (const [id, w] of split.budgets) out[Number(id)] = w;
    return out;
  }

  function control(dc: Datacenter, ctx: StepContext): number {
    const budget = budgets(dc, ctx);
    const periodMs = (dc.setup.intervalS * 1000) / ITERATIONS;
    const start = dc.freqRatio.slice();
    for (let i = 0; i < ITERATIONS; i++) {
      for (let h = 0; h < dc.hostCount; h++) {
        if ((dc.hostVms[h] as number[]).length === 0) { dc.freqRatio[h] = 1; continue; }
        let c = controllers.get(h);
        if (!c) { c = { dvfs: slaDvfsPolicy.create(), budget: budgetPolicy.create() }; controllers.set(h, c); }
        const s = snapshot(dc, h, clock.now(), periodMs, budget[h] as number);
        const byBudget = capOf(c.budget.decide(s, budgetPolicy.defaults, clock));
        const bySla = capOf(c.dvfs.decide(s, slaDvfsPolicy.defaults, clock));
        // The budget wins: a lower cap from the budget controller overrides any raise.
        let cap = s.frequency.capKHz;
        if (byBudget !== undefined && byBudget < cap) cap = byBudget;
        else if (bySla !== undefined) cap = byBudget !== undefined ? Math.min(bySla, byBudget) : bySla;
        dc.freqRatio[h] = Math.min(1, Math.max(MIN_RATIO, cap / s.frequency.maxKHz));
      }
      clock.advance(periodMs);
    }
    let changes = 0;
    for (let h = 0; h < dc.hostCount; h++) {
      if (dc.freqRatio[h] !== start[h]) changes++;
      dc.capWatts[h] = budget[h] as number;
    }
    return changes;
  }

  return { name: 'vmanage', initialPlacement: inner.initialPlacement, migrations: inner.migrations, control };
}
