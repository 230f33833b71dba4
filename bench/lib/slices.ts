// Two CPU cgroups that stand for systemd's slices on a KVM host: "system" (system.slice, where the
// vmanage units and dbus-daemon run) and "guests" (machine.slice, where libvirt puts the QEMU
// processes). Each gets a CPU weight (systemd's CPUWeight=, 1..10000, default 100), so a benchmark
// can measure what the kernel's group scheduling does for the daemons while guests keep every CPU
// busy. cgroup v2 (cpu.weight) when its root has the cpu controller, else cgroup v1's cpu
// hierarchy (cpu.shares = weight x 1024 / 100). Root only; the groups are removed on close.
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Slices {
  /** 'v2' or 'v1' (which hierarchy the groups live in). */
  readonly version: 'v1' | 'v2';
  readonly systemDir: string;
  readonly guestsDir: string;
  /** Moves a process (its every thread) into the system group. */
  system(pid: number): void;
  /** Moves a process (its every thread) into the guests group. */
  guests(pid: number): void;
  /** Moves this process (if it was moved) and any process still in the groups back to the root group, and removes both groups (waiting up to 5 s for exiting ones). */
  close(): Promise<void>;
}

const V2_ROOT = '/sys/fs/cgroup';
const V1_CPU = '/sys/fs/cgroup/cpu';

function v2HasCpu(): boolean {
  try {
    return readFileSync(join(V2_ROOT, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('cpu');
  } catch {
    return false;
  }
}

/** Creates the two groups with the given CPU weights; throws naming the reason when it cannot. */
export function createSlices(o: { systemWeight: number; guestsWeight: number; prefix?: string }): Slices {
  for (const [k, w] of [['systemWeight', o.systemWeight], ['guestsWeight', o.guestsWeight]] as const) {
    if (!(Number.isInteger(w) && w >= 1 && w <= 10_000)) throw new Error(`slices ${k}: expected a whole number in 1..10000 (CPUWeight=), got ${w}`);
  }
  const prefix = o.prefix ?? `vmanage-bench-${process.pid}`;
  const v2 = v2HasCpu();
  const root = v2 ? V2_ROOT : V1_CPU;
  if (!v2 && !existsSync(join(root, 'cpu.shares'))) throw new Error(`slices: no cgroup v2 cpu controller at ${V2_ROOT} and no cgroup v1 cpu hierarchy at ${V1_CPU}`);
  if (v2) appendFileSync(join(root, 'cgroup.subtree_control'), '+cpu');
  const made: string[] = [];
  const group = (name: string, weight: number): string => {
    const dir = join(root, `${prefix}-${name}`);
    try {
      mkdirSync(dir);
    } catch (err) {
      throw new Error(`slices: cannot create ${dir} (root and a writable cgroup hierarchy needed): ${(err as Error).message}`);
    }
    made.push(dir);
    if (v2) writeFileSync(join(dir, 'cpu.weight'), String(weight));
    else writeFileSync(join(dir, 'cpu.shares'), String(Math.round((weight * 1024) / 100)));
    return dir;
  };
  const systemDir = group('system', o.systemWeight);
  const guestsDir = group('guests', o.guestsWeight);
  // v2 moves whole processes (cgroup.procs); v1's cgroup.procs moves every thread of the process too.
  const move = (dir: string, pid: number): void => writeFileSync(join(dir, 'cgroup.procs'), String(pid));
  let movedSelf = false;
  return {
    version: v2 ? 'v2' : 'v1', systemDir, guestsDir,
    system: (pid) => { move(systemDir, pid); movedSelf ||= pid === process.pid; },
    guests: (pid) => { move(guestsDir, pid); movedSelf ||= pid === process.pid; },
    close: async () => {
      if (movedSelf) move(root, process.pid);
      for (const dir of made.reverse()) {
        // A process the benchmark started may outlive it (a daemon still exiting): back to the root group.
        for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
          try {
            writeFileSync(join(root, 'cgroup.procs'), pid);
          } catch {
            /* it exited meanwhile */
          }
        }
        // A process killed a moment ago may not have left yet: rmdir is EBUSY until it has.
        for (let i = 0; ; i++) {
          try {
            rmdirSync(dir);
            break;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'EBUSY' || i >= 50) {
              process.stderr.write(`slices: ${dir} not removed: ${(err as Error).message}\n`);
              break;
            }
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      }
    },
  };
}

/** The cgroup path of `pid` in the hierarchy the slices use (for checks). */
export function cgroupOf(pid: number, version: 'v1' | 'v2'): string | undefined {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  for (const line of lines) {
    const [, controllers, path] = line.split(':');
    if (version === 'v2' && controllers === '' && line.startsWith('0::')) return path;
    if (version === 'v1' && controllers?.split(',').includes('cpu')) return path;
  }
  return undefined;
}
