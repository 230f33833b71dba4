// Per-VM statistics (throws UNSUPPORTED when the driver reports no CPU time) from libvirt-dbus: GetStats records (typed parameters such as "cpu.time" in
// ns, "vcpu.N.time" in ns, "balloon.current" in KiB) and MemoryStats (virDomainMemoryStatTags,
// values in KiB).
import type { VmCpuTime, VmStats } from '../../domain/ports/hypervisor.js';
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

/**
 * GetAllDomainStats records, a(sa{sv}): [domain name, typed parameters]. Returns the CPU time by
 * domain name ("cpu.time", ns; undefined when the driver reports none) and how many records had
 * an unusable shape (left out; a name seen twice keeps the first).
 */
export function parseCpuTimes(records: unknown, timestamp: number): { byName: Map<string, VmCpuTime>; malformed: number } {
  const byName = new Map<string, VmCpuTime>();
  let malformed = 0;
  if (!Array.isArray(records)) return { byName, malformed: 1 };
  for (const rec of records as unknown[]) {
    const [name, params] = Array.isArray(rec) ? rec as unknown[] : [];
    if (typeof name !== 'string' || name === '' || params === null || typeof params !== 'object' || byName.has(name)) {
      malformed++;
      continue;
    }
    const cpuTimeNs = num(record(params)['cpu.time']);
    byName.set(name, cpuTimeNs === undefined || cpuTimeNs < 0 ? { timestamp } : { cpuTimeNs, timestamp });
  }
  return { byName, malformed };
}
