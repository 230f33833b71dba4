// Per-VM statistics (throws UNSUPPORTED when the driver reports no CPU time) from libvirt-dbus: GetStats records (typed parameters such as "cpu.time" in
// ns, "vcpu.N.time" in ns, "balloon.current" in KiB) and MemoryStats (virDomainMemoryStatTags,
// values in KiB).
import type { VmStats } from '../../domain/ports/hypervisor.js';
import { UnsupportedError } from '../../domain/errors.js';
import { MemoryStatTags } from './constants.js';
import { num, record } from './variants.js';

export function parseStats(uuid: string, records: unknown, memoryStats: unknown, timestamp: number): VmStats {
  const r = record(records);
  const vcpuCount = num(r['vcpu.current']) ?? num(r['vcpu.maximum']) ?? 0;
  const vcpuTimeNs: number[] = [];
  for (let i = 0; i < vcpuCount && i < 4096; i++) {
    const t = num(r[`vcpu.${i}.time`]);
    if (t !== undefined) vcpuTimeNs.push(t);
  }
  const cpuTimeNs = num(r['cpu.time']) ?? (vcpuTimeNs.length > 0 ? vcpuTimeNs.reduce((a, b) => a + b, 0) : undefined);
  // The test driver reports only state: no CPU time is not zero CPU time.
  if (cpuTimeNs === undefined) throw new UnsupportedError('libvirt (this driver)', 'per-VM CPU time (GetStats cpu.time)');
  const m = memoryStats && typeof memoryStats === 'object' ? memoryStats as Record<string, unknown> : {};
  const tag = (t: number): number | undefined => num(m[String(t)]);
  const memory = {
    actualKiB: tag(MemoryStatTags.ACTUAL_BALLOON) ?? num(r['balloon.current']),
    rssKiB: tag(MemoryStatTags.RSS) ?? num(r['balloon.rss']),
    availableKiB: tag(MemoryStatTags.AVAILABLE) ?? num(r['balloon.available']),
    unusedKiB: tag(MemoryStatTags.UNUSED) ?? num(r['balloon.unused']),
  };
  return {
    uuid,
    cpuTimeNs,
    ...(vcpuTimeNs.length > 0 ? { vcpuTimeNs } : {}),
    memory: Object.fromEntries(Object.entries(memory).filter(([, v]) => v !== undefined)),
    timestamp,
  };
}
