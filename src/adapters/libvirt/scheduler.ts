// Scheduler parameters between the port (cpuShares, vcpuQuotaUs, vcpuPeriodUs) and libvirt's
// typed parameters. The QEMU driver's "posix" scheduler (cgroups) takes cpu_shares (ullong),
// vcpu_quota (llong, µs, -1 or 0 = unlimited depending on version) and vcpu_period (ullong, µs).
// Xen's credit schedulers and the test driver's "fair" scheduler take a relative "weight" (uint)
// only: quota/period there is refused with UNSUPPORTED rather than silently dropped.
import { UnsupportedError, ErrorCodes, VmanageError } from '../../domain/errors.js';
import type { SchedulerParams } from '../../domain/ports/hypervisor.js';
import { num, record, variant } from './variants.js';

export type SchedulerKind = 'posix' | 'weight';

export function schedulerKind(schedulerType: string): SchedulerKind {
  return schedulerType === 'posix' ? 'posix' : 'weight';
}

export function fromSchedulerRecord(params: unknown): SchedulerParams {
  const r = record(params);
  const out: { -readonly [K in keyof SchedulerParams]: SchedulerParams[K] } = {};
  const shares = num(r['cpu_shares']) ?? num(r['weight']);
  const quota = num(r['vcpu_quota']);
  const period = num(r['vcpu_period']);
  if (shares !== undefined) out.cpuShares = shares;
  if (quota !== undefined) out.vcpuQuotaUs = quota;
  if (period !== undefined) out.vcpuPeriodUs = period;
  return out;
}

function checkInt(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new VmanageError(ErrorCodes.InvalidInput, `${name} must be an integer in [${min}, ${max}], got ${v}`, { [name]: v });
  }
}

export function toSchedulerRecord(p: SchedulerParams, kind: SchedulerKind): Record<string, ReturnType<typeof variant>> {
  const out: Record<string, ReturnType<typeof variant>> = {};
  if (kind === 'weight') {
    if (p.vcpuQuotaUs !== undefined || p.vcpuPeriodUs !== undefined) throw new UnsupportedError('libvirt weight scheduler', 'vcpu quota/period');
    if (p.cpuShares !== undefined) {
      checkInt('cpuShares', p.cpuShares, 1, 65535);
      out['weight'] = variant('u', p.cpuShares);
    }
    return out;
  }
  if (p.cpuShares !== undefined) {
    checkInt('cpuShares', p.cpuShares, 2, 262144);
    out['cpu_shares'] = variant('t', BigInt(p.cpuShares));
  }
  if (p.vcpuPeriodUs !== undefined) {
    checkInt('vcpuPeriodUs', p.vcpuPeriodUs, 1000, 1_000_000);
    out['vcpu_period'] = variant('t', BigInt(p.vcpuPeriodUs));
  }
  if (p.vcpuQuotaUs !== undefined) {
    if (p.vcpuQuotaUs !== -1) checkInt('vcpuQuotaUs', p.vcpuQuotaUs, 1000, 17_592_186_044_415);
    out['vcpu_quota'] = variant('x', BigInt(p.vcpuQuotaUs));
  }
  return out;
}
