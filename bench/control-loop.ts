// `npm run bench -- control-loop [--samples N (1000)] [--agents N] [--seconds S] [--runtime shipped|tsx]
//   [--fake-sysfs memory|disk] [--gap-ms A-B] [--background N] [--nice N] [--daemon-nice N] [--hog N] [--trace]
//   [--trace-out FILE] [--daemon-node-args "..."] [--slices W]`
// vmanage-mvm as deployed: a child process on libvirt's test driver (libvirt-dbus), a simulated
// power sensor, and the real vmanage-powerd on a private system bus over a fake sysfs. Both
// daemons run as the .deb ships them (`--runtime shipped`, the default: esbuild bundles of
// scripts/package/programs.mjs under plain node, bench/lib/shipped-daemons.ts) or from the
// TypeScript sources under tsx (`--runtime tsx`, as the tests run them). The fake sysfs tree is
// on tmpfs, in memory as real sysfs is (`--fake-sysfs disk`: in os.tmpdir() as before
// 2026-11-26; on ext4 the attribute writes themselves cost ms, bench/lib/sysfs-medium.ts).
// 1. latency: a guest agent writes a "violated" SLA report on its M-channel, and the cap goes up.
//    p50Ms/p99Ms/maxMs, what the issue names: from the report arriving in vmanage-mvm (read from
//    the M-channel and handed to the control loop) to powerd having written the new cap into
//    every policy's scaling_max_freq (and read it back). Both ends are marked inside the daemons
//    (VMANAGE_HOP_TRACE=1, src/adapters/power/hop-trace.ts, on for the latency phase) in the
//    clock the processes share (bench/lib/control-loop-hops.ts, reportArrivedToCapWritten).
//    Two wider measures of the same samples, taken by this process: observed* (the measure of
//    every run before 2026-11-26, session 4, then called p50Ms/p99Ms) from the guest's write to
//    powerd's CapChanged signal reaching this process (adds the guest -> MVM hop and the signal's
//    trip through dbus-daemon back here), and landed* from the guest's write to inotify telling
//    this process that the last policy's scaling_max_freq was written.
//    baseline: the same two process hops without vmanage (a node sender -> socat -> a node writer
//    writing a tmpfs file, bench/lib/raw-relay.ts), one sample before each real one, in the same
//    conditions; p99Ratio/p50Ratio = ours / raw.
//    Between samples an "ok" report lets sla-dvfs relax the cap (a
//    50 ms period for that; minGapMs 0, since with a 50 ms period the default 100 ms least gap
//    between cycles would hold every violation back for the next period: in production, period
//    1000 ms, a violation >= 100 ms after the last cycle gets its cycle at once).
//    powerdOnly*: the powerd leg alone (SetFrequencyCap from the bench to CapChanged), for the breakdown.
//    --gap-ms A-B: after the relax step is seen, the violation waits a random A..B ms (default
//    10-40), so it arrives at a random moment as real reports do, not while powerd still sends the
//    relax step's signals and the MVM still waits for its reply (`--gap-ms 0`: back to back, as
//    every run before 2026-11-26 (session 4) did; `queuedBehindPreviousCall` counts those).
//    --background N: N more guest agents report "ok" every second meanwhile (random phases).
//    --nice N: the benchmark (guest and observer), the MVM, dbus-daemon and powerd run at nice N
//    while sampling latency (root only for N < 0): how much of the tail is waiting for a CPU.
//    --daemon-nice N: only vmanage-mvm and vmanage-powerd (every thread) run at nice N, as the
//    units' Nice= sets it; dbus-daemon and the rest stay at 0.
//    --hog N: N processes spin on a CPU at nice 0 while sampling latency (guests keeping the
//    host's CPUs busy); `contention` shows the pressure they make.
//    --slices W: as on a systemd host, the hogs run in a "guests" CPU cgroup (machine.slice,
//    weight 100) and this process with every daemon it starts (vmanage-mvm, vmanage-powerd,
//    dbus-daemon, libvirt-dbus) in a "system" one (system.slice) of CPU weight W (CPUWeight=; 100
//    is systemd's default). Root and a cgroup cpu controller (v2, or v1's cpu.shares) needed;
//    bench/lib/slices.ts.
//    --trace: the result also gets `hops`, the per-hop split of the same marks (every hop's p50/p99,
//    GC pauses, event-loop delay, the three slowest samples hop by hop).
//    --trace-out FILE: every hop mark as a JSON line {proc, hop, at, extra} (GC marks carry their
//    kind and pause), for analysis the summary does not make.
//    --daemon-node-args "...": node arguments (space-separated) for vmanage-mvm and vmanage-powerd,
//    before the bundle (shipped runtime; V8 flags or --cpu-prof, experiments: not how units ship).
// 2. rssMB / cpuPct of the daemon process with N guest agents (another process, unix sockets)
//    each reporting every second from a random phase, over S seconds (after a 5 s warm-up).
//    Under tsx the RSS includes tsx and its in-process TypeScript compilation.
import dbus from 'dbus-next';
import { randomUUID } from 'node:crypto';
import { setPriority } from 'node:os';
import { readdirSync, readFileSync, watch } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { monotonicMs, hopTracer } from '../src/adapters/power/hop-trace.js';
import { PowerdClient } from '../src/adapters/power/powerd-client.js';
import { startRawRelay } from './lib/raw-relay.js';
import { createSlices, type Slices } from './lib/slices.js';
import { breakdown, HopCollector, reportArrivedToCapWritten, type SampleWindow } from './lib/control-loop-hops.js';
import { cpuPressureAvg10, fsType, pageFaults, parseMedium, schedstat, useSysfsMedium, waitPerSliceMs } from './lib/sysfs-medium.js';
import { disconnectBus } from '../src/adapters/power/powerd-client-protocol.js';
import { requestStatus } from '../src/cli/vmanagectl.js';
import type { MvmStatus } from '../src/daemons/mvm/mvm.js';
import { freePort, startProcess, tempDir, waitFor, type Started, type Teardown } from '../test/support/proc.js';
import { powerSection, startGuest, startLibvirt, startMvmDaemon, startPowerd, type Libvirt, type MvmProcess, type Powerd } from '../test/mvm/support.js';
import { startShippedMvm, startShippedPowerd } from './lib/shipped-daemons.js';

/** Starts the MVM with this extra config (shipped bundle or tsx). */
type StartMvm = (t: Teardown, lv: Libvirt, extra: Record<string, unknown>) => Promise<MvmProcess>;

const TEST_DOMAIN = '/org/libvirt/Test/domain/_6695eb01_f6a4_8304_79aa_97f2502e193f';
const root = new URL('..', import.meta.url).pathname;

function arg(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(args[i + 1]) : dflt;
  if (!(Number.isFinite(v) && v > 0)) throw new Error(`--${name}: expected a positive number`);
  return v;
}

/** --gap-ms A-B or --gap-ms N (= N-N); default 10-40. */
function parseGap(args: string[]): [number, number] {
  const i = args.indexOf('--gap-ms');
  if (i < 0) return [10, 40];
  const m = /^(\d{1,4})(?:-(\d{1,4}))?$/.exec(args[i + 1] ?? '');
  const a = Number(m?.[1]);
  const b = m?.[2] === undefined ? a : Number(m[2]);
  if (!m || b < a) throw new Error('--gap-ms: expected N or A-B, whole ms, A <= B');
  return [a, b];
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const status = async (socket: string): Promise<MvmStatus> => await requestStatus(socket) as MvmStatus;

interface Latency {
  /** Report reached the MVM's control loop -> powerd wrote the cap (the issue's measure; see the header). */
  p50Ms: number; p99Ms: number; maxMs: number; samples: number; powerdOnlyP50Ms: number; powerdOnlyP99Ms: number;
  /** The same hops without vmanage (bench/lib/raw-relay.ts), sampled between the real samples; ratios = ours / raw. */
  baseline: { rawP50Ms: number; rawP99Ms: number; rawMaxMs: number; p99Ratio: number; p50Ratio: number };
  /** Guest's write -> CapChanged reaching this process (p50Ms/p99Ms of runs before session 4). */
  observedP50Ms: number; observedP99Ms: number; observedMaxMs: number;
  /** The same samples measured where the cap lands: report sent -> inotify on the last policy's scaling_max_freq. */
  landedP50Ms: number; landedP99Ms: number; landedMaxMs: number;
  /** The random wait before each violation (--gap-ms), ms. */
  gapMs: readonly [number, number];
  /** Guest agents connected and reporting "ok" every second meanwhile (--background N). */
  backgroundAgents: number;
  /** CPU contention while sampling: PSI cpu "some avg10" (%) at the end, the mean run-queue wait per slice of each daemon's main thread (ms), and each daemon's minor page faults meanwhile. */
  contention: { psiCpuSomeAvg10: number; powerdWaitPerSliceMs: number; mvmWaitPerSliceMs: number; mvmMinorFaults: number; powerdMinorFaults: number };
  /** With --trace: where each sample's time went (bench/lib/control-loop-hops.ts). */
  hops?: object;
  /** The daemon's own account (its /metrics, last 1024 cycles): SLA violation -> cap call start, and the cap call (D-Bus round trip to powerd). */
  daemon: Record<string, number>;
}

/** vmanage_broker_latency_seconds{path,quantile} from a /metrics text, as {<path>P50Ms: ...}. */
function daemonLatency(metrics: string): Record<string, number> {
  const out: Record<string, number> = {};
  const re = /^vmanage_broker_latency_seconds\{path="([^"]+)",quantile="([0-9.]+)"\} ([0-9.e+-]+)$/gm;
  for (const m of metrics.matchAll(re)) {
    const name = (m[1] as string).replace(/^apply:set-frequency-cap$/, 'capCall').replace(/^trigger_to_apply$/, 'reportToCapCall');
    out[`${name}P${Math.round(Number(m[2]) * 100)}Ms`] = Math.round(Number(m[3]) * 1e5) / 100;
  }
  return out;
}

/** Starts N guest agents (bench/lib/mvm-agents.ts) in their own process and their VMs; the result stops both. */
async function startAgents(t: Teardown, lv: Libvirt, n: number, violateEvery: number, prefix: string): Promise<() => Promise<void>> {
  const dir = await tempDir(t);
  const proc = await startProcess(t, process.execPath, ['--import', 'tsx', join(root, 'bench/lib/mvm-agents.ts'), dir, String(n), '1000', String(violateEvery)], { cwd: root, ready: /ready/, readyTimeoutMs: 60_000 });
  for (let i = 0; i < n; i++) await lv.startVm(`${prefix}${i}`, randomUUID(), join(dir, `g${i}.sock`));
  return async () => {
    for (let i = 0; i < n; i++) {
      const [path] = await lv.raw.call('/org/libvirt/Test', 'org.libvirt.Connect', 'DomainLookupByName', 's', [`${prefix}${i}`]) as [string];
      await lv.raw.call(path, 'org.libvirt.Domain', 'Destroy', 'u', [0]);
      await lv.raw.call(path, 'org.libvirt.Domain', 'Undefine', 'u', [0]);
    }
    await proc.stop();
  };
}

interface LatencyOptions {
  samples: number; background: number; hops: HopCollector; detail: boolean; nice: number | undefined; gapMs: readonly [number, number];
  daemonNice: number | undefined; hogs: number; slices: Slices | undefined;
}

/** Every thread of pid to nice n (setpriority on a pid moves only its main thread on Linux). */
function reniceAllThreads(pid: number, n: number): void {
  for (const tid of readdirSync(`/proc/${pid}/task`)) setPriority(Number(tid), n);
}

/** N busy processes at nice 0 (in the guests group with --slices); the result stops them (teardown does too). */
async function startHogs(t: Teardown, n: number, slices: Slices | undefined): Promise<() => Promise<void>> {
  const hogs: Started[] = [];
  for (let i = 0; i < n; i++) {
    const hog = await startProcess(t, process.execPath, ['-e', 'process.stdout.write("spinning\\n"); for (;;) {}'], { ready: /spinning/ });
    slices?.guests(hog.pid);
    hogs.push(hog);
  }
  return async () => { for (const h of hogs) await h.stop('SIGKILL'); };
}

/** With --nice N: the processes on the measured path run at nice N (an experiment on the scheduler's share of the tail). */
function renice(nice: number | undefined, ...pids: number[]): void {
  if (nice !== undefined) for (const pid of pids) setPriority(pid, nice);
}

async function latency(t: Teardown, pd: Powerd, lv: Libvirt, startMvm: StartMvm, o: LatencyOptions): Promise<Latency> {
  const { samples } = o;
  const dir = await tempDir(t);
  const chan = join(dir, 'lat.sock');
  const guest = await startGuest(t, chan);
  await lv.startVm('lat', randomUUID(), chan);
  const stopBackground = o.background > 0 ? await startAgents(t, lv, o.background, 0, 'bg') : undefined;
  const metricsPort = await freePort();
  const mvm = await startMvm(t, lv, {
    log: { level: 'warn' }, metrics: { port: metricsPort },
    power: powerSection(pd.address, 0.5, {
      startCapKHz: 2_000_000, periodMs: 50, minGapMs: 0, reports: { burst: 1000, perSecond: 1000 },
      rails: { 'set-frequency-cap': { dwellMs: 0, maxChanges: 1_000_000 } },
      policies: [{ name: 'sla-dvfs', params: { relaxSlack: 0, relaxAfterMs: 0 } }],
    }),
  });
  o.hops.attach(mvm.proc.child.stderr);
  renice(o.nice, mvm.proc.pid);
  if (o.daemonNice !== undefined) for (const pid of [mvm.proc.pid, pd.proc.pid]) reniceAllThreads(pid, o.daemonNice);
  const stopHogs = o.hogs > 0 ? await startHogs(t, o.hogs, o.slices) : undefined;
  // Where the cap lands: powerd writes the policies in order; the last one's write ends the change.
  const landings: number[] = [];
  const watcher = watch(pd.fake.path('sys/devices/system/cpu/cpufreq/policy1/scaling_max_freq'), () => {
    landings.push(monotonicMs());
    if (landings.length > 10_000) landings.splice(0, 5000);
  });
  t.teardown(() => watcher.close());
  const bus = dbus.sessionBus({ busAddress: pd.address });
  bus.on('error', () => undefined);
  t.teardown(() => disconnectBus(bus));
  const client = await PowerdClient.connect({ bus });
  if (o.nice !== undefined) {
    const driver = (await bus.getProxyObject('org.freedesktop.DBus', '/org/freedesktop/DBus')).getInterface('org.freedesktop.DBus');
    const busPid = Number(await (driver['GetConnectionUnixProcessID'] as (n: string) => Promise<number>)('org.freedesktop.DBus'));
    renice(o.nice, busPid, pd.proc.pid, process.pid);
  }
  const changes: { at: number; up: boolean }[] = [];
  let waiter: { pred: (c: { at: number; up: boolean }) => boolean; resolve: (c: { at: number; up: boolean }) => void } | undefined;
  client.onCapChanged((c) => {
    const ch = { at: monotonicMs(), up: Number(c.new) > Number(c.old) };
    o.hops.mark(`bench.capchanged:${c.old}->${c.new}`, ch.at);
    changes.push(ch);
    if (changes.length > 10_000) changes.splice(0, 5000);
    if (waiter?.pred(ch)) { waiter.resolve(ch); waiter = undefined; }
  });
  /** Resolves at the signal itself (no polling), or rejects after 5 s. */
  const next = (pred: (c: { at: number; up: boolean }) => boolean, what: string): Promise<{ at: number; up: boolean }> => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no CapChanged (${what}) within 5 s`)), 5000);
    waiter = { pred, resolve: (c) => { clearTimeout(timer); resolve(c); } };
  });
  await waitFor('the guest session', async () => (await status(mvm.control)).counters['guest_reports'] !== undefined && (await status(mvm.control)).vms >= 1 + o.background, 60_000, 100);
  const raw = await startRawRelay(t, pd.fake.root);
  const rawMs: number[] = [];
  const s0 = { pd: schedstat(pd.proc.pid), mvm: schedstat(mvm.proc.pid) };
  const f0 = { pd: pageFaults(pd.proc.pid), mvm: pageFaults(mvm.proc.pid) };
  const out: number[] = [];
  const landed: number[] = [];
  const windows: SampleWindow[] = [];
  for (let i = 0; i < samples + 5; i++) {
    const relaxAt = monotonicMs();
    const last = windows[windows.length - 1];
    if (last) last.end = relaxAt;
    await guest.report(false);
    await waitFor('a relax step', () => changes.some((c) => !c.up && c.at > relaxAt) || (i === 0 && changes.length === 0 ? true : undefined), 5000, 2);
    const [gapMin, gapMax] = o.gapMs;
    const gap = (): Promise<unknown> => new Promise((r) => setTimeout(r, gapMin + Math.random() * (gapMax - gapMin)));
    if (gapMax > 0) await gap();
    const rawSample = await raw.sample(); // the baseline, in the same conditions
    if (i >= 5) rawMs.push(rawSample);
    if (gapMax > 0) await gap();
    const raised = next((c) => c.up, 'the raise');
    const t0 = monotonicMs();
    await guest.report(true);
    const ev = await raised;
    // inotify may be read after the signal: wait for it (a landing without an event is a bug).
    const land = await waitFor('the inotify event', () => landings.find((x) => x >= t0), 5000, 1);
    if (i >= 5) { // the first few warm the JIT
      out.push(ev.at - t0);
      landed.push(land - t0);
      windows.push({ send: t0, end: Number.POSITIVE_INFINITY, observed: ev.at, landed: land });
    }
    if (i % 50 === 0) process.stderr.write(`latency sample ${i}/${samples}\n`);
  }
  // The daemons write their marks in batches (every 250 ms): wait for a batch from each that
  // was written after the last sample, so the last samples' marks are all in.
  const lastAt = monotonicMs();
  await waitFor('the daemons\' last hop marks', () => [mvm.proc.pid, pd.proc.pid].every((pid) => o.hops.marks.some((m) => m.hop === 'loop-delay' && m.proc.endsWith(`:${pid}`) && m.at > lastAt)) || undefined, 5000, 20);
  const contention = { psiCpuSomeAvg10: cpuPressureAvg10(), powerdWaitPerSliceMs: waitPerSliceMs(s0.pd, schedstat(pd.proc.pid)), mvmWaitPerSliceMs: waitPerSliceMs(s0.mvm, schedstat(mvm.proc.pid)),
    mvmMinorFaults: pageFaults(mvm.proc.pid).minor - f0.mvm.minor, powerdMinorFaults: pageFaults(pd.proc.pid).minor - f0.pd.minor };
  await guest.report(false);
  await stopHogs?.();
  const daemon = daemonLatency(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
  await mvm.proc.stop();
  await stopBackground?.();
  // The powerd leg alone, for the breakdown: SetFrequencyCap from here to its CapChanged.
  const direct: number[] = [];
  for (let i = 0; i < Math.min(samples, 200); i++) {
    const changed = next(() => true, 'direct');
    const t0 = monotonicMs();
    await client.setMaxFrequency(i % 2 === 0 ? 2_500_000 : 2_400_000);
    const ev = await changed;
    direct.push(ev.at - t0);
  }
  const sorted = out.sort((a, b) => a - b);
  const issue = reportArrivedToCapWritten(o.hops, windows);
  if (issue.length < windows.length * 0.95) throw new Error(`only ${issue.length} of ${windows.length} samples have both daemon marks (VMANAGE_HOP_TRACE lost?)`);
  const d = direct.sort((a, b) => a - b);
  const rs = rawMs.sort((a, b) => a - b);
  const l = landed.sort((a, b) => a - b);
  const r = (x: number): number => Math.round(x * 100) / 100;
  return {
    p50Ms: r(pct(issue, 50)), p99Ms: r(pct(issue, 99)), maxMs: r(issue[issue.length - 1] as number), samples: issue.length,
    baseline: { rawP50Ms: r(pct(rs, 50)), rawP99Ms: r(pct(rs, 99)), rawMaxMs: r(rs[rs.length - 1] as number), p99Ratio: r(pct(issue, 99) / pct(rs, 99)), p50Ratio: r(pct(issue, 50) / pct(rs, 50)) },
    observedP50Ms: r(pct(sorted, 50)), observedP99Ms: r(pct(sorted, 99)), observedMaxMs: r(sorted[sorted.length - 1] as number),
    landedP50Ms: r(pct(l, 50)), landedP99Ms: r(pct(l, 99)), landedMaxMs: r(l[l.length - 1] as number),
    powerdOnlyP50Ms: r(pct(d, 50)), powerdOnlyP99Ms: r(pct(d, 99)), gapMs: o.gapMs, backgroundAgents: o.background, contention, daemon,
    ...(o.detail ? { hops: breakdown(o.hops, windows) } : {}),
  };
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

async function load(t: Teardown, pd: Powerd, lv: Libvirt, startMvm: StartMvm, agents: number, seconds: number): Promise<{ rssMB: number; cpuPct: number; agents: number; seconds: number; reportsPerSecond: number }> {
  await startAgents(t, lv, agents, 10, 'g');
  const mvm = await startMvm(t, lv, { log: { level: 'warn' }, power: powerSection(pd.address, 0.5, { periodMs: 1000, readIntervalMs: 1000 }) });
  await waitFor('reports from every agent', async () => (await status(mvm.control)).counters['guest_reports']! >= agents, 60_000, 250);
  await new Promise((r) => setTimeout(r, 5000));
  const hz = 100; // USER_HZ on Linux
  const c0 = cpuTicks(mvm.proc.pid);
  const r0 = (await status(mvm.control)).counters['guest_reports']!;
  const t0 = performance.now();
  let peak = 0;
  while (performance.now() - t0 < seconds * 1000) {
    await new Promise((r) => setTimeout(r, 1000));
    peak = Math.max(peak, rssMB(mvm.proc.pid));
  }
  const elapsedS = (performance.now() - t0) / 1000;
  const cpuPct = ((cpuTicks(mvm.proc.pid) - c0) / hz / elapsedS) * 100;
  const reports = (await status(mvm.control)).counters['guest_reports']! - r0;
  await mvm.proc.stop();
  return { rssMB: Math.round(peak * 10) / 10, cpuPct: Math.round(cpuPct * 10) / 10, agents, seconds: Math.round(elapsedS), reportsPerSecond: Math.round(reports / elapsedS) };
}

export default async function controlLoop(args: string[]): Promise<object> {
  const samples = arg(args, 'samples', 1000);
  const background = args.includes('--background') ? Number(args[args.indexOf('--background') + 1]) : 0;
  if (!(Number.isInteger(background) && background >= 0)) throw new Error('--background: expected a whole number >= 0');
  const trace = args.includes('--trace');
  const gapMs = parseGap(args);
  const nice = args.includes('--nice') ? Number(args[args.indexOf('--nice') + 1]) : undefined;
  if (nice !== undefined && !(Number.isInteger(nice) && nice >= -20 && nice <= 19)) throw new Error('--nice: expected a whole number in -20..19');
  const daemonNice = args.includes('--daemon-nice') ? Number(args[args.indexOf('--daemon-nice') + 1]) : undefined;
  if (daemonNice !== undefined && !(Number.isInteger(daemonNice) && daemonNice >= -20 && daemonNice <= 19)) throw new Error('--daemon-nice: expected a whole number in -20..19');
  const hogs = args.includes('--hog') ? Number(args[args.indexOf('--hog') + 1]) : 0;
  if (!(Number.isInteger(hogs) && hogs >= 0 && hogs <= 64)) throw new Error('--hog: expected a whole number in 0..64');
  const si = args.indexOf('--slices');
  const systemWeight = si >= 0 ? Number(args[si + 1]) : undefined;
  if (systemWeight !== undefined && !(Number.isInteger(systemWeight) && systemWeight >= 1 && systemWeight <= 10_000)) throw new Error('--slices: expected a CPU weight, a whole number in 1..10000');
  hopTracer(); // this process never traces (its tracer is fixed before the daemons get the variable)
  process.env['VMANAGE_HOP_TRACE'] = '1'; // the latency phase's daemons mark their hops
  const hops = new HopCollector();
  const medium = parseMedium(args);
  useSysfsMedium(medium);
  const agents = arg(args, 'agents', 100);
  const seconds = arg(args, 'seconds', 20);
  const ri = args.indexOf('--runtime');
  const runtime = ri >= 0 ? args[ri + 1] : 'shipped';
  if (runtime !== 'shipped' && runtime !== 'tsx') throw new Error('--runtime: expected shipped or tsx');
  const teardowns: (() => unknown)[] = [];
  const t: Teardown = { teardown: (fn) => { teardowns.push(fn); } };
  // Before any daemon starts: they inherit this process's group.
  const slices = systemWeight !== undefined ? createSlices({ systemWeight, guestsWeight: 100 }) : undefined;
  slices?.system(process.pid);
  try {
    const bundleDir = await tempDir(t, 'vmanage-bench-bundle-');
    const ni = args.indexOf('--daemon-node-args');
    const nodeArgs = ni >= 0 ? (args[ni + 1] ?? '').split(' ').filter(Boolean) : [];
    if (ni >= 0 && runtime !== 'shipped') throw new Error('--daemon-node-args: only with --runtime shipped');
    const pd = runtime === 'shipped' ? await startShippedPowerd(t, bundleDir, nodeArgs) : await startPowerd(t);
    const startMvm: StartMvm = runtime === 'shipped' ? (tt, l, extra) => startShippedMvm(tt, l, bundleDir, extra, nodeArgs) : (tt, l, extra) => startMvmDaemon(tt, l, extra);
    hops.attach(pd.proc.child.stderr);
    const fakeSysfs = `${medium} (${fsType(pd.fake.root)})`;
    const lv = await startLibvirt(t);
    await lv.raw.call(TEST_DOMAIN, 'org.libvirt.Domain', 'Destroy', 'u', [0]); // no SLA reports: would block relaxing
    const lat = await latency(t, pd, lv, startMvm, { samples, background, hops, detail: trace, nice, gapMs, daemonNice, hogs, slices });
    process.stderr.write(`latency ${JSON.stringify(lat)}; load with ${agents} agents for ${seconds} s\n`);
    delete process.env['VMANAGE_HOP_TRACE']; // the load phase measures the MVM as it ships
    const res = await load(t, pd, lv, startMvm, agents, seconds);
    const oi = args.indexOf('--trace-out');
    if (oi >= 0) await writeFile(args[oi + 1] ?? 'hops.jsonl', hops.marks.map((m) => JSON.stringify(m)).join('\n') + '\n');
    return { runtime, trace, fakeSysfs, ...(ni >= 0 ? { daemonNodeArgs: nodeArgs } : {}), ...(nice !== undefined ? { nice } : {}), ...(daemonNice !== undefined ? { daemonNice } : {}), hogs, ...(slices ? { slices: { cgroup: slices.version, systemWeight, guestsWeight: 100 } } : {}), ...lat, ...res, loadAvg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number) };
  } finally {
    for (const fn of teardowns.reverse()) await fn();
    await slices?.close();
  }
}
