// Where the benchmarks' fake sysfs tree lives. Real sysfs is in memory (kernfs): a write to
// scaling_max_freq costs the driver's work, no disk. The fake tree is made by makeFakeSysfs in
// os.tmpdir(); on this machine that is ext4, where powerd's write (open O_TRUNC, write, close)
// of an attribute that held data makes ext4 start writeback at close (auto_da_alloc) and journal
// the truncate: p50 2.4 ms / p99 24 ms per attribute under load, against 0.013 / 0.03 ms on
// tmpfs (measured 2026-11-26, load ~15). `memory` (the default) points TMPDIR at /dev/shm
// (tmpfs) for this process and its children; `disk` keeps os.tmpdir() as it was (the numbers
// before 2026-11-26 were measured that way).
import { readFileSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';

const TMPFS_MAGIC = 0x01021994;
const NAMES: Record<number, string> = { [TMPFS_MAGIC]: 'tmpfs', 0xef53: 'ext4', 0x58465342: 'xfs', 0x794c7630: 'overlayfs', 0x9123683e: 'btrfs' };

export type SysfsMedium = 'memory' | 'disk';

export function parseMedium(args: readonly string[]): SysfsMedium {
  const i = args.indexOf('--fake-sysfs');
  const v = i >= 0 ? args[i + 1] : 'memory';
  if (v !== 'memory' && v !== 'disk') throw new Error('--fake-sysfs: expected memory or disk');
  return v;
}

/** The file system type under path, by name where known (else its magic number in hex). */
export function fsType(path: string): string {
  const type = statfsSync(path).type;
  return NAMES[type] ?? `0x${type.toString(16)}`;
}

/** Applies the medium to os.tmpdir() (fails when /dev/shm is not tmpfs); returns the fs type of tmpdir. */
export function useSysfsMedium(medium: SysfsMedium): string {
  if (medium === 'memory') {
    if (statfsSync('/dev/shm').type !== TMPFS_MAGIC) throw new Error('--fake-sysfs memory: /dev/shm is not a tmpfs here; use --fake-sysfs disk');
    process.env['TMPDIR'] = '/dev/shm';
  }
  return fsType(tmpdir());
}

/** /proc/PID/schedstat of a process's main thread: time on CPU, time waiting on a run queue (ns), slices run. */
export function schedstat(pid: number): { runNs: number; waitNs: number; slices: number } {
  const [runNs, waitNs, slices] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number) as [number, number, number];
  return { runNs, waitNs, slices };
}

/** Page faults of pid so far (/proc/<pid>/stat minflt and majflt). */
export function pageFaults(pid: number): { minor: number; major: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { minor: Number(f[7]), major: Number(f[9]) };
}

/** Mean run-queue wait per slice (ms) between two schedstat samples: how long a wake-up waited for a CPU. */
export function waitPerSliceMs(a: ReturnType<typeof schedstat>, b: ReturnType<typeof schedstat>): number {
  const n = b.slices - a.slices;
  return n > 0 ? Math.round(((b.waitNs - a.waitNs) / n / 1e6) * 1000) / 1000 : Number.NaN;
}

/** "some avg10" of /proc/pressure/cpu: % of the last 10 s in which a runnable task waited for a CPU (NaN without PSI). */
export function cpuPressureAvg10(): number {
  try {
    const m = /^some avg10=([0-9.]+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    return m ? Number(m[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}
