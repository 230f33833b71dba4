// `vmanage`: the production code end to end on simulated adapters. Per host, the host policies
// of vmanage-mvm (sim/vmanage/host.ts: sla-dvfs, budget, violation-trigger; lowest cap wins) run
// PERIODS_PER_STEP control periods per trace step on an injected ManualClock; the Cluster Leader
// (sim/vmanage/leader.ts: budget split, planMigrations with the MigrationLedger, placement,
// consolidation with power off / on) runs once per trace step on the hosts' requests.
// Order within a step, as on a real cluster: the leader's pass first (on the requests the
// triggers raised during the previous step), then the migrations start, then the hosts' control
// periods run on the new demand and placement.
import { ManualClock } from '../../domain/clock.js';
import { migrationDefaults, type MigrationParams } from '../../domain/leader/migration.js';
import type { Datacenter } from '../datacenter.js';
import { SimHost, hostParams, type HostCounters, type HostRequest } from '../vmanage/host.js';
import { SimLeader, type CoreFit } from '../vmanage/leader.js';
import type { Migration, SimPolicy, StepContext } from './types.js';

/** Host control periods per trace step (300 s / 10 = 30 s of simulated time each). */
export const PERIODS_PER_STEP = 10;
/**
 * The leader's recent-peak window (destinations are judged at the p95 of it) spans the same
 * horizon as the ledger's memory of moves (stability.backoffResetMs, 6 h = 72 samples of 300 s):
 * a host that takes a VM must have had room for the VM's peak over the time in which another
 * move of that VM would count as churn. Measured: 1 h instead gives 15-30 % more migrations.
 */
export function peakWindowSamples(params: MigrationParams, intervalS: number): number {
  return Math.max(1, Math.round(params.stability.backoffResetMs / (intervalS * 1000)));
}

/**
 * How many samples of its own a VM needs before they outweigh the prior for its type (the mean
 * observed peak of the VMs of the same size): the 5 samples below which the leader's UtilWindow
 * does not trust its p95 either (UtilWindow.peak's minSamples). Placement at time 0 and the
 * planner's destination checks use max(observed, (n x observed + k x prior) / (n + k)), so a VM
 * the leader barely knows is neither taken at one sample nor at full size. Chosen on this
 * principle; checked on tuning inputs only (docs/simulator.md).
 */
export const PRIOR_SAMPLES = 5;

/**
 * The leader's parameters in the simulator: the defaults, with placement's burst headroom on (a
 * destination must be able to absorb any one of its VMs at full size; docs/leader-policies.md).
 * Every VM here has one vCPU of at most 2.5 compute units and bursts to 70-99 % of it, so the
 * headroom is modest and the bursts are what start moves (docs/simulator.md, "Burst headroom").
 */
export const SIM_LEADER_PARAMS: MigrationParams = { ...migrationDefaults, placement: { ...migrationDefaults.placement, burstHeadroom: true } };

export interface VmanageOptions {
  readonly params?: MigrationParams;
  readonly windowSamples?: number;
  /** Place VMs at time 0 at full size instead of their declared (first-sample) CPU use. */
  readonly fullSizePlacement?: boolean;
  /**
   * Weight of the type prior in a VM's planned peak, in samples (see PRIOR_SAMPLES); 0 plans at
   * the observed peak alone (and places at the first sample).
   */
  readonly priorSamples?: number;
  /**
   * Which cores a VM may go to: 'full' (default) where its vCPU fits one core at full size
   * whenever a host that is on has such cores, else where its planned peak fits; 'peak' where
   * its planned peak fits (the rule before 2026-11-26, kept for comparison and tests).
   */
  readonly coreFit?: CoreFit;
}

export function vmanagePolicy(opts: VmanageOptions = {}): SimPolicy {
  const params = opts.params ?? SIM_LEADER_PARAMS;
  const clock = new ManualClock(0);
  const hosts = new Map<number, SimHost>();
  const hostCounters: HostCounters = { overBudgetPeriods: 0, capDecisions: {}, triggerRequests: 0 };
  let leader: SimLeader | undefined;
  let queued: HostRequest[] = [];

  function leaderOf(dc: Datacenter): SimLeader {
    leader ??= new SimLeader(dc, params, opts.windowSamples ?? peakWindowSamples(params, dc.setup.intervalS), opts.priorSamples ?? PRIOR_SAMPLES, opts.coreFit ?? 'full');
    return leader;
  }

  function migrations(dc: Datacenter, ctx: StepContext): Migration[] {
    const requests = queued;
    queued = [];
    return leaderOf(dc).pass(ctx.timeS * 1000, ctx.budgetW, requests);
  }

  function control(dc: Datacenter, ctx: StepContext): number {
    const l = leaderOf(dc);
    // Budgets are in force from the start: the leader's first pass (step 1) is too late for step 0.
    if (ctx.step === 0 && ctx.budgetW !== undefined) l.splitBudget(0, ctx.budgetW);
    const periodMs = (dc.setup.intervalS * 1000) / PERIODS_PER_STEP;
    const p = hostParams(periodMs, dc.setup.intervalS * 1000);
    if (ctx.timeS * 1000 > clock.now()) clock.advance(ctx.timeS * 1000 - clock.now());
    const start = dc.freqRatio.slice();
    const open = new Set<number>();
    const active: SimHost[] = [];
    for (let h = 0; h < dc.hostCount; h++) {
      if ((dc.hostVms[h] as number[]).length === 0) { dc.freqRatio[h] = 1; continue; }
      let host = hosts.get(h);
      if (!host) { host = new SimHost(h); hosts.set(h, host); }
      active.push(host);
    }
    for (let i = 0; i < PERIODS_PER_STEP; i++) {
      for (const host of active) {
        for (const r of host.period(dc, l.budgets[host.h] as number, clock, periodMs, p, open, hostCounters)) {
          open.add(r.vm);
          queued.push(r);
        }
      }
      clock.advance(periodMs);
    }
    let changes = 0;
    for (let h = 0; h < dc.hostCount; h++) {
      if (dc.freqRatio[h] !== start[h]) changes++;
      dc.capWatts[h] = l.budgets[h] as number;
    }
    return changes;
  }

  return {
    name: 'vmanage',
    initialPlacement: (dc) => leaderOf(dc).initialPlacement(opts.fullSizePlacement ?? false),
    migrations,
    control,
    diagnostics: () => ({ host: { ...hostCounters }, leader: leader ? { ...leader.counters } : {} }),
  };
}
