// The paper's SLA-aware DVFS (section 2.1): a VM's SLA violation raises the host's frequency cap
// one step; host power over its budget lowers it one step, whatever the SLAs say (the budget
// always wins); when every VM meets its SLA with margin for `relaxAfterMs`, the cap relaxes
// (goes down) one step to save energy, and again only after another `relaxAfterMs`.
// A raise happens only on a usable power reading and only if the power model predicts the new
// cap stays under the budget minus the margin; any reading over the budget, even a stale one,
// lowers (worst case). Units: kHz, W, ms.
import { z } from 'zod';
import type { Decision, HostSnapshot, VmSnapshot } from '../model.js';
import { definePolicy, type Policy } from './types.js';
import { clampCap, judgeSensor, predictWatts, round1 } from './predict.js';

export const slaDvfsParams = z.object({
  /** One frequency step, kHz. */
  stepKHz: z.number().int().positive(),
  /** Headroom kept under the budget when raising, W (keep it >= budget's marginWatts so the two agree). */
  marginWatts: z.number().min(0),
  /** "With margin": every VM's SLA slack at least this (fraction of its target). */
  relaxSlack: z.number().min(0).max(1),
  /** How long all SLAs must be met with margin before each relax step, ms. */
  relaxAfterMs: z.number().int().nonnegative(),
  /** An SLA report older than this counts as unknown, ms. */
  slaMaxAgeMs: z.number().int().positive(),
  maxAgeMs: z.number().int().positive(),
  maxPlausibleWatts: z.number().positive(),
}).strict();

export type SlaDvfsParams = z.infer<typeof slaDvfsParams>;

export const slaDvfsDefaults: SlaDvfsParams = {
  stepKHz: 100_000,
  marginWatts: 4,
  relaxSlack: 0.2,
  relaxAfterMs: 30_000,
  slaMaxAgeMs: 30_000,
  maxAgeMs: 3000,
  maxPlausibleWatts: 10_000,
};

export const POLICY_SLA_DVFS = 'sla-dvfs';

function freshSla(vm: VmSnapshot, now: number, maxAgeMs: number): boolean {
  return vm.sla.reportedAt !== undefined && now - vm.sla.reportedAt <= maxAgeMs;
}

class SlaDvfs implements Policy<SlaDvfsParams> {
  private relaxedSince: number | undefined;

  decide(s: HostSnapshot, p: SlaDvfsParams, clock: { now(): number }): Decision[] {
    const now = clock.now();
    const cap = s.frequency.capKHz;
    const sensor = judgeSensor(s, p.maxAgeMs, p.maxPlausibleWatts);
    const seen = sensor.sample && Number.isFinite(sensor.sample.watts) && sensor.sample.watts <= p.maxPlausibleWatts ? sensor.sample.watts : undefined;
    if (seen !== undefined && seen > s.budget.watts) {
      this.relaxedSince = undefined;
      return this.step(s, -p.stepKHz, seen, 'budget-exceeded', `power ${round1(seen)} W over budget ${s.budget.watts} W: lower one step`);
    }
    const violating = s.vms.filter((vm) => vm.sla.status === 'violated' && freshSla(vm, now, p.slaMaxAgeMs));
    if (violating.length > 0) {
      this.relaxedSince = undefined;
      if (!sensor.ok || cap >= s.frequency.maxKHz) return [];
      const next = clampCap(s, cap + p.stepKHz);
      if (predictWatts(s, next) > s.budget.watts - p.marginWatts) return [];
      const names = violating.slice(0, 5).map((vm) => vm.name ?? vm.uuid).join(', ');
      return this.step(s, p.stepKHz, sensor.sample.watts, 'sla-violation', `SLA violated by ${violating.length} VM(s) (${names}): raise one step`, { violatingVms: violating.length });
    }
    const allRoomy = s.vms.every((vm) => vm.sla.status === 'ok' && vm.sla.slack >= p.relaxSlack && freshSla(vm, now, p.slaMaxAgeMs));
    if (!allRoomy) {
      this.relaxedSince = undefined;
      return [];
    }
    this.relaxedSince ??= now;
    if (now - this.relaxedSince < p.relaxAfterMs || cap <= s.frequency.minKHz) return [];
    this.relaxedSince = now;
    return this.step(s, -p.stepKHz, seen, 'sla-slack', `every SLA met with >= ${p.relaxSlack * 100} % slack for ${p.relaxAfterMs} ms: relax one step`);
  }

  private step(s: HostSnapshot, deltaKHz: number, watts: number | undefined, code: string, text: string, extra: Record<string, number> = {}): Decision[] {
    const next = clampCap(s, s.frequency.capKHz + deltaKHz);
    if (next === s.frequency.capKHz) return [];
    const predicted = watts === undefined ? undefined : predictWatts(s, next, watts);
    return [{
      kind: 'set-frequency-cap', target: s.host, value: next, policy: POLICY_SLA_DVFS,
      reason: { code, text },
      predicted: predicted === undefined || !Number.isFinite(predicted) ? {} : { watts: round1(predicted), deltaWatts: round1(predicted - (watts ?? 0)) },
      inputs: { capKHz: s.frequency.capKHz, budgetWatts: s.budget.watts, ...(watts === undefined ? {} : { watts: round1(watts) }), ...extra },
    }];
  }
}

export const slaDvfsPolicy = definePolicy<SlaDvfsParams>({
  name: POLICY_SLA_DVFS,
  description: "the paper's SLA-aware DVFS: SLA violation raises the cap a step, budget excess lowers it, the budget wins",
  schema: slaDvfsParams,
  defaults: slaDvfsDefaults,
  create: () => new SlaDvfs(),
});
