// Per-VM CPU shares and quotas (libvirt scheduler parameters) so that, when host power must be
// cut, VMs meeting their SLA with room to spare give up cycles before VMs at their limit.
//
// Pressure starts when measured power reaches budget - pressureMarginWatts (or the reading is
// unusable: worst case) and ends after power stays under budget - releaseMarginWatts for
// releaseAfterMs (hysteresis). Under pressure each VM falls in one class:
//   at-limit  (violated, or slack < limitSlack): priorityShares, no quota
//   room      (ok and slack >= roomSlack):        donorShares, quota = its use less giveUp * slack
//   normal:                                       normalShares, no quota
// A donor keeps the quota it got when it became one (no ratchet on its throttled use) until it
// reaches its limit or the pressure ends, so a VM does not flip between classes every period.
// Outside pressure every VM goes back to normalShares and no quota.
// Quota unit: µs of CPU per vCPU per QUOTA_PERIOD_US (100 000 µs); -1 = unlimited.
import { z } from 'zod';
import { QUOTA_PERIOD_US, type Decision, type HostSnapshot, type VmSnapshot } from '../model.js';
import { definePolicy, type Policy } from './types.js';
import { judgeSensor, round1 } from './predict.js';

export const vmSharesParams = z.object({
  pressureMarginWatts: z.number().min(0),
  releaseMarginWatts: z.number().min(0),
  releaseAfterMs: z.number().int().nonnegative(),
  /** Slack (fraction of SLA target) at or above which a VM has room to spare. */
  roomSlack: z.number().min(0).max(1),
  /** Slack below which a VM is at its limit. */
  limitSlack: z.number().min(0).max(1),
  /** Share of a donor's slack it gives up, fraction. */
  giveUpFraction: z.number().min(0).max(1),
  /** A donor's quota never goes below this fraction of one vCPU. */
  minQuotaFraction: z.number().gt(0).max(1),
  normalShares: z.number().int().min(2).max(262_144),
  donorShares: z.number().int().min(2).max(262_144),
  priorityShares: z.number().int().min(2).max(262_144),
  /** Quota changes smaller than this fraction are not worth a knob change. */
  quotaTolerance: z.number().min(0).max(1),
  maxAgeMs: z.number().int().positive(),
  maxPlausibleWatts: z.number().positive(),
}).strict().refine((p) => p.releaseMarginWatts >= p.pressureMarginWatts, { message: 'releaseMarginWatts must be >= pressureMarginWatts (hysteresis)', path: ['releaseMarginWatts'] });

export type VmSharesParams = z.infer<typeof vmSharesParams>;

export const vmSharesDefaults: VmSharesParams = {
  pressureMarginWatts: 2,
  releaseMarginWatts: 10,
  releaseAfterMs: 20_000,
  roomSlack: 0.25,
  limitSlack: 0.05,
  giveUpFraction: 0.5,
  minQuotaFraction: 0.1,
  normalShares: 1024,
  donorShares: 256,
  priorityShares: 4096,
  quotaTolerance: 0.05,
  maxAgeMs: 3000,
  maxPlausibleWatts: 10_000,
};

export const POLICY_VM_SHARES = 'vm-shares';

type VmClass = 'at-limit' | 'room' | 'normal';

export function classifyVm(vm: VmSnapshot, p: Pick<VmSharesParams, 'roomSlack' | 'limitSlack'>): VmClass {
  if (vm.sla.status === 'violated' || (vm.sla.status === 'ok' && vm.sla.slack < p.limitSlack)) return 'at-limit';
  if (vm.sla.status === 'ok' && vm.sla.slack >= p.roomSlack) return 'room';
  return 'normal';
}

class VmShares implements Policy<VmSharesParams> {
  private pressure = false;
  private calmSince: number | undefined;
  /** Quota (µs) fixed for each VM when it became a donor in this pressure episode. */
  private readonly donors = new Map<string, number>();

  decide(s: HostSnapshot, p: VmSharesParams, clock: { now(): number }): Decision[] {
    this.updatePressure(s, p, clock.now());
    const present = new Set(s.vms.map((vm) => vm.uuid));
    for (const uuid of this.donors.keys()) if (!this.pressure || !present.has(uuid)) this.donors.delete(uuid);
    const out: Decision[] = [];
    for (const vm of s.vms) {
      const cls = this.classify(vm, p);
      const shares = cls === 'at-limit' ? p.priorityShares : cls === 'room' ? p.donorShares : p.normalShares;
      const quota = cls === 'room' ? (this.donors.get(vm.uuid) ?? -1) : -1;
      const why = this.pressure ? `power pressure; VM ${cls} (slack ${round1(vm.sla.slack * 100)} %)` : 'no power pressure: restore';
      const code = this.pressure ? `pressure-${cls}` : 'pressure-released';
      if ((vm.scheduler.cpuShares ?? p.normalShares) !== shares) {
        out.push(vmDecision(s, vm, 'set-vm-shares', shares, code, `${why}: shares ${shares}`, 0));
      }
      const current = vm.scheduler.vcpuQuotaUs ?? -1;
      if (quotaDiffers(current, quota, p.quotaTolerance)) {
        out.push(vmDecision(s, vm, 'set-vm-quota', quota, code, `${why}: quota ${quota < 0 ? 'unlimited' : `${quota} µs per ${QUOTA_PERIOD_US} µs`}`, savedWatts(s, vm, current, quota)));
      }
    }
    return out;
  }

  private classify(vm: VmSnapshot, p: VmSharesParams): VmClass {
    if (!this.pressure) return 'normal';
    const cls = classifyVm(vm, p);
    if (cls === 'at-limit') {
      this.donors.delete(vm.uuid);
      return cls;
    }
    if (this.donors.has(vm.uuid)) return 'room';
    if (cls === 'room') this.donors.set(vm.uuid, donorQuota(vm, p));
    return cls;
  }

  private updatePressure(s: HostSnapshot, p: VmSharesParams, now: number): void {
    const sensor = judgeSensor(s, p.maxAgeMs, p.maxPlausibleWatts);
    const watts = sensor.ok ? sensor.sample.watts : Number.POSITIVE_INFINITY;
    if (watts >= s.budget.watts - p.pressureMarginWatts) {
      this.pressure = true;
      this.calmSince = undefined;
      return;
    }
    if (!this.pressure) return;
    if (watts < s.budget.watts - p.releaseMarginWatts) {
      this.calmSince ??= now;
      if (now - this.calmSince >= p.releaseAfterMs) {
        this.pressure = false;
        this.calmSince = undefined;
      }
    } else {
      this.calmSince = undefined;
    }
  }
}

/** Its present use per vCPU, less giveUpFraction of its slack, in µs per period. */
function donorQuota(vm: VmSnapshot, p: VmSharesParams): number {
  const keep = Math.max(p.minQuotaFraction, Math.min(1, vm.cpuUtil) * (1 - p.giveUpFraction * Math.min(1, vm.sla.slack)));
  return Math.round(keep * QUOTA_PERIOD_US / 1000) * 1000;
}

function quotaDiffers(current: number, next: number, tolerance: number): boolean {
  if (current < 0 || next < 0) return (current < 0) !== (next < 0);
  return Math.abs(current - next) > tolerance * QUOTA_PERIOD_US;
}

/** Rough saving if the VM is held to the quota: its lost CPU share of the host's dynamic power, W. */
function savedWatts(s: HostSnapshot, vm: VmSnapshot, current: number, quota: number): number {
  if (quota < 0 || !s.powerModel) return 0;
  const before = current < 0 ? vm.cpuUtil : Math.min(vm.cpuUtil, current / QUOTA_PERIOD_US);
  const lost = Math.max(0, before - quota / QUOTA_PERIOD_US) * vm.vcpus / Math.max(1, s.cpus);
  return -lost * (s.powerModel.peakWatts - s.powerModel.idleWatts);
}

function vmDecision(s: HostSnapshot, vm: VmSnapshot, kind: 'set-vm-shares' | 'set-vm-quota', value: number, code: string, text: string, deltaWatts: number): Decision {
  return {
    kind, target: vm.uuid, value, policy: POLICY_VM_SHARES,
    reason: { code, text },
    predicted: deltaWatts !== 0 ? { deltaWatts: round1(deltaWatts) } : {},
    inputs: { vm: vm.name ?? vm.uuid, slack: round1(vm.sla.slack * 100) / 100, cpuUtil: round1(vm.cpuUtil * 100) / 100, sla: vm.sla.status, budgetWatts: s.budget.watts },
  };
}

export const vmSharesPolicy = definePolicy<VmSharesParams>({
  name: POLICY_VM_SHARES,
  description: 'per-VM CPU shares and quotas: VMs with SLA room give up cycles before VMs at their limit',
  schema: vmSharesParams,
  defaults: vmSharesDefaults,
  create: () => new VmShares(),
});
