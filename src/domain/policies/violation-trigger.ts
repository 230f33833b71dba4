// The violation-frequency trigger: when budget violations (control periods whose reading was
// over the budget) in a sliding window reach `onThreshold`, ask the leader to migrate a VM away;
// the trigger switches off again only when the count falls to `offThreshold` (hysteresis).
// At most one open request per VM, at most `maxOpenRequests` open at once, and at least
// `minIntervalMs` between two requests, and a VM asked for is not asked for again within
// `vmCooldownMs` (the leader said no, or moving it did not help: try another), so no input (a guest flooding SLA reports that keeps the
// cap high, a flapping sensor) can raise more requests than that.
// Which VM: the one whose CPU share of the host's dynamic power covers the excess with the
// least load (cheapest move that helps); if none covers it, the biggest contributor.
import { z } from 'zod';
import type { Decision, HostSnapshot, VmSnapshot } from '../model.js';
import { definePolicy, type Policy } from './types.js';
import { judgeSensor, round1 } from './predict.js';

export const violationTriggerParams = z.object({
  windowMs: z.number().int().positive(),
  /** Violating periods in the window that switch the trigger on. */
  onThreshold: z.number().int().positive(),
  /** ... and off again (must be lower: hysteresis). */
  offThreshold: z.number().int().nonnegative(),
  minIntervalMs: z.number().int().nonnegative(),
  maxOpenRequests: z.number().int().positive(),
  /** A VM is not asked for again within this, ms. */
  vmCooldownMs: z.number().int().nonnegative(),
  /** Power the host wants to get under the budget by, W (added to the excess). */
  marginWatts: z.number().min(0),
  maxAgeMs: z.number().int().positive(),
  maxPlausibleWatts: z.number().positive(),
}).strict().refine((p) => p.offThreshold < p.onThreshold, { message: 'offThreshold must be lower than onThreshold (hysteresis)', path: ['offThreshold'] });

export type ViolationTriggerParams = z.infer<typeof violationTriggerParams>;

export const violationTriggerDefaults: ViolationTriggerParams = {
  windowMs: 60_000,
  onThreshold: 6,
  offThreshold: 2,
  minIntervalMs: 60_000,
  maxOpenRequests: 1,
  vmCooldownMs: 300_000,
  marginWatts: 5,
  maxAgeMs: 3000,
  maxPlausibleWatts: 10_000,
};

export const POLICY_VIOLATION_TRIGGER = 'violation-trigger';

/** Hard bound on remembered violations, whatever the window and period. */
const MAX_REMEMBERED = 4096;

class ViolationTrigger implements Policy<ViolationTriggerParams> {
  private readonly violations: number[] = [];
  private active = false;
  private lastRequestAt = Number.NEGATIVE_INFINITY;
  private lastExcess = 0;
  /** VM uuid -> when it was last asked for (pruned after vmCooldownMs; at most one per VM). */
  private readonly asked = new Map<string, number>();

  decide(s: HostSnapshot, p: ViolationTriggerParams, clock: { now(): number }): Decision[] {
    const now = clock.now();
    const sensor = judgeSensor(s, p.maxAgeMs, p.maxPlausibleWatts);
    if (sensor.ok && sensor.sample.watts > s.budget.watts) {
      this.violations.push(now);
      this.lastExcess = sensor.sample.watts - s.budget.watts;
      if (this.violations.length > MAX_REMEMBERED) this.violations.shift();
    }
    while (this.violations.length > 0 && (this.violations[0] as number) <= now - p.windowMs) this.violations.shift();
    const count = this.violations.length;
    if (!this.active && count >= p.onThreshold) this.active = true;
    else if (this.active && count <= p.offThreshold) this.active = false;
    if (!this.active || now - this.lastRequestAt < p.minIntervalMs) return [];
    const open = s.vms.filter((vm) => vm.migrationOpen).length;
    if (open >= p.maxOpenRequests) return [];
    const watts = sensor.ok ? sensor.sample.watts : s.budget.watts + this.lastExcess;
    const shed = Math.max(0, watts - s.budget.watts) + p.marginWatts;
    for (const [uuid, at] of this.asked) if (now - at >= p.vmCooldownMs) this.asked.delete(uuid);
    const pick = chooseVm(s, shed, watts, this.asked);
    if (!pick) return [];
    this.lastRequestAt = now;
    this.asked.set(pick.vm.uuid, now);
    return [{
      kind: 'request-migration', target: pick.vm.uuid, value: round1(shed), policy: POLICY_VIOLATION_TRIGGER,
      reason: { code: 'violation-frequency', text: `${count} budget violations in ${p.windowMs / 1000} s (threshold ${p.onThreshold}): ask the leader to move ${pick.vm.name ?? pick.vm.uuid}` },
      predicted: { deltaWatts: round1(-pick.watts), watts: round1(watts - pick.watts) },
      inputs: { violations: count, windowMs: p.windowMs, watts: round1(watts), budgetWatts: s.budget.watts, vmWatts: round1(pick.watts), openRequests: open },
    }];
  }
}

/** Each VM's share of the host's dynamic power (W), by CPU time. */
function vmWatts(s: HostSnapshot, vm: VmSnapshot, hostWatts: number, totalCpu: number): number {
  const idle = s.powerModel?.idleWatts ?? hostWatts * 0.5;
  const dynamic = Math.max(0, hostWatts - idle);
  return totalCpu > 0 ? (dynamic * vm.cpuUtil * vm.vcpus) / totalCpu : 0;
}

function chooseVm(s: HostSnapshot, shedWatts: number, hostWatts: number, asked: ReadonlyMap<string, number>): { vm: VmSnapshot; watts: number } | undefined {
  const totalCpu = s.vms.reduce((sum, vm) => sum + vm.cpuUtil * vm.vcpus, 0);
  const candidates = s.vms
    .filter((vm) => !vm.migrationOpen && vm.cpuUtil > 0 && !asked.has(vm.uuid))
    .map((vm) => ({ vm, watts: vmWatts(s, vm, hostWatts, totalCpu) }))
    .sort((a, b) => a.watts - b.watts || a.vm.uuid.localeCompare(b.vm.uuid));
  return candidates.find((c) => c.watts >= shedWatts) ?? candidates[candidates.length - 1];
}

export const violationTriggerPolicy = definePolicy<ViolationTriggerParams>({
  name: POLICY_VIOLATION_TRIGGER,
  description: 'asks the leader to migrate a VM when budget violations in a sliding window pass a threshold (hysteresis)',
  schema: violationTriggerParams,
  defaults: violationTriggerDefaults,
  create: () => new ViolationTrigger(),
});
