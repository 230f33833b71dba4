// A simulated host running the production host policies UNCHANGED (src/domain/policies, the
// same set and the same merge as vmanage-mvm's default config: sla-dvfs, budget with raise off,
// violation-trigger; the lowest frequency cap wins). The simulated adapters are:
// - hypervisor: the VMs the Datacenter places on the host, with their demand as CPU use;
// - guest SLA reports: per VM, slack = spare CPU at the current frequency / its demand;
// - power sensor: the host's DVFS-aware SPECpower model at its demand and frequency, fresh;
// - frequency actuator: dc.freqRatio (cap / max), clamped to [MIN_RATIO, 1];
// - leader link: budgets in, migration requests out (queued for the leader's next pass).
// Time comes from the injected ManualClock. Units: MIPS, W, kHz, ms.
import type { Clock } from '../../domain/clock.js';
import type { Decision, HostSnapshot, VmSnapshot } from '../../domain/model.js';
import { budgetPolicy, slaDvfsPolicy, violationTriggerPolicy, type Policy } from '../../domain/policies/index.js';
import type { BudgetParams, SlaDvfsParams, ViolationTriggerParams } from '../../domain/policies/index.js';
import type { Datacenter } from '../datacenter.js';

/** Lowest frequency ratio the simulated hosts offer (f_min / f_max). */
export const MIN_RATIO = 0.5;

/** The host policies' parameters in the simulator (see hostParams). */
export interface HostParams {
  readonly sla: SlaDvfsParams;
  readonly budget: BudgetParams;
  readonly trigger: ViolationTriggerParams;
}

/**
 * The mvm defaults (budget with raise off, as vmanage-mvm's default config runs it beside
 * sla-dvfs). Only the trigger's window, which counts control periods, is scaled from the
 * daemon's 1 s period to the simulator's `periodMs` (60 periods either way; the counts and
 * watts are unchanged), and its spacing between requests is one leader pass (`stepMs`: the
 * leader plans once per trace step). Time constants about the workload (relaxAfterMs) stay.
 */
export function hostParams(periodMs: number, stepMs: number): HostParams {
  const trigger = violationTriggerPolicy.defaults as ViolationTriggerParams;
  return {
    sla: slaDvfsPolicy.defaults as SlaDvfsParams,
    budget: { ...(budgetPolicy.defaults as BudgetParams), raise: false },
    trigger: { ...trigger, windowMs: 60 * periodMs, minIntervalMs: stepMs, vmCooldownMs: 2 * stepMs },
  };
}

/** A host's migration request, as host.migration-request carries it. */
export interface HostRequest {
  readonly host: number;
  readonly vm: number;
  readonly shedWatts: number;
}

export interface HostCounters {
  /** Periods a host's measured power was over its budget. */
  overBudgetPeriods: number;
  /** Frequency-cap decisions by reason code (policy:code). */
  capDecisions: Record<string, number>;
  /** Migration requests the violation trigger raised. */
  triggerRequests: number;
}

/** Demand of host h's VMs (a VM migrating in counted whole), MIPS. */
export function hostDemand(dc: Datacenter, h: number): number {
  let d = 0;
  for (const v of dc.hostVms[h] as number[]) d += dc.demand[v] as number;
  return d;
}

/** The simulated power sensor: model power at `demand` MIPS and frequency ratio r, W. */
export function simWatts(dc: Datacenter, h: number, demand: number, r: number): number {
  const u = demand / ((dc.totalMips[h] as number) * r);
  return dc.setup.hosts[h]?.power.watts(u > 1 ? 1 : u, r) ?? 0;
}

export class SimHost {
  private readonly sla: Policy<unknown> = slaDvfsPolicy.create();
  private readonly budget: Policy<unknown> = budgetPolicy.create();
  private readonly trigger: Policy<unknown> = violationTriggerPolicy.create();

  constructor(readonly h: number) {}

  /**
   * One control period: snapshot, the three policies, merge (lowest cap wins), actuate.
   * `open`: VMs with a request still open at the leader. Returns the requests raised.
   */
  period(dc: Datacenter, budgetW: number, clock: Clock, periodMs: number, p: HostParams, open: ReadonlySet<number>, counters: HostCounters): HostRequest[] {
    const s = snapshot(dc, this.h, clock.now(), periodMs, budgetW, open);
    if ((s.power?.watts ?? 0) > budgetW) counters.overBudgetPeriods++;
    const decisions = [
      ...this.sla.decide(s, p.sla, clock),
      ...this.budget.decide(s, p.budget, clock),
      ...this.trigger.decide(s, p.trigger, clock),
    ];
    let cap: Decision | undefined;
    const out: HostRequest[] = [];
    for (const d of decisions) {
      if (d.kind === 'set-frequency-cap' && (cap === undefined || d.value < cap.value)) cap = d;
      if (d.kind === 'request-migration') {
        out.push({ host: this.h, vm: Number(d.target.slice(3)), shedWatts: d.value });
        counters.triggerRequests++;
      }
    }
    if (cap) {
      const key = `${cap.policy}:${cap.reason.code}`;
      counters.capDecisions[key] = (counters.capDecisions[key] ?? 0) + 1;
      dc.freqRatio[this.h] = Math.min(1, Math.max(MIN_RATIO, cap.value / s.frequency.maxKHz));
    }
    return out;
  }
}

function snapshot(dc: Datacenter, h: number, now: number, periodMs: number, budgetW: number, open: ReadonlySet<number>): HostSnapshot {
  const spec = dc.setup.hosts[h];
  const maxKHz = (dc.peMips[h] as number) * 1000; // 1 MIPS per MHz
  const r = dc.freqRatio[h] as number;
  const demand = hostDemand(dc, h);
  const capacity = (dc.totalMips[h] as number) * r;
  const core = (dc.peMips[h] as number) * r;
  const hostSlack = demand > 0 ? (capacity - demand) / demand : 1;
  const vms: VmSnapshot[] = (dc.hostVms[h] as number[]).map((v) => {
    const d = dc.demand[v] as number;
    const slack = d > 0 ? Math.min(hostSlack, (core - d) / d) : 1;
    return {
      uuid: `vm-${v}`, vcpus: 1, cpuUtil: d / (dc.setup.vms[v]?.mips ?? 1), scheduler: {}, migrationOpen: open.has(v),
      sla: { status: slack < 0 ? 'violated' : 'ok', slack, reportedAt: now, violations: slack < 0 ? 1 : 0 },
    };
  });
  return {
    host: `host-${h}`, at: now, periodMs,
    power: { watts: simWatts(dc, h, demand, r), ageMs: 0, stale: false, source: 'sim' },
    budget: { watts: budgetW, source: 'leader', leaderAt: now },
    cpuUtil: Math.min(1, demand / capacity), cpus: spec?.pes ?? 1,
    frequency: { capKHz: Math.round(r * maxKHz), minKHz: Math.round(MIN_RATIO * maxKHz), maxKHz },
    ...(spec ? { powerModel: spec.power } : {}),
    reliability: 1, leaderConnected: true, vms,
  };
}
