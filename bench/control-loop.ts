// `npm run bench -- control-loop [--samples N] [--agents N] [--seconds S] [--runtime shipped|tsx]`
// vmanage-mvm as deployed: a child process on libvirt's test driver (libvirt-dbus), a simulated
// power sensor, and the real vmanage-powerd on a private system bus over a fake sysfs. Both
// daemons run as the .deb ships them (`--runtime shipped`, the default: esbuild bundles of
// scripts/package/programs.mjs under plain node, bench/lib/shipped-daemons.ts) or from the
// TypeScript sources under tsx (`--runtime tsx`, as the tests run them).
// 1. latencyMs: a guest agent writes a "violated" SLA report on its M-channel; the clock stops
//    when powerd signals CapChanged with a higher cap (report -> daemon -> broker -> D-Bus call ->
//    sysfs write -> signal back). Between samples an "ok" report lets sla-dvfs relax the cap (a
//    50 ms period for that; minGapMs 0, since with a 50 ms period the default 100 ms least gap
//    between cycles would hold every violation back for the next period: in production, period
//    1000 ms, a violation >= 100 ms after the last cycle gets its cycle at once).
//    powerdOnly*: the powerd leg alone (SetFrequencyCap from the bench to CapChanged), for the breakdown.
// 2. rssMB / cpuPct of the daemon process with N guest agents (another process, unix sockets)
//    each reporting every second, over S seconds (after a 5 s warm-up). Under tsx the RSS
//    includes tsx and its in-process TypeScript compilation.
import dbus from 'dbus-next';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PowerdClient } from '../src/adapters/power/powerd-client.js';
import { disconnectBus } from '../src/adapters/power/powerd-client-protocol.js';
import { requestStatus } from '../src/cli/vmanagectl.js';
import type { MvmStatus } from '../src/daemons/mvm/mvm.js';
import { freePort, startProcess, tempDir, waitFor, type Teardown } from '../test/support/proc.js';
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

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const status = async (socket: string): Promise<MvmStatus> => await requestStatus(socket) as MvmStatus;

interface Latency {
  p50Ms: number; p99Ms: number; maxMs: number; samples: number; powerdOnlyP50Ms: number; powerdOnlyP99Ms: number;
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

async function latency(t: Teardown, pd: Powerd, lv: Libvirt, startMvm: StartMvm, samples: number): Promise<Latency> {
  const dir = await tempDir(t);
  const chan = join(dir, 'lat.sock');
  const guest = await startGuest(t, chan);
  await lv.startVm('lat', randomUUID(), chan);
  const metricsPort = await freePort();
  const mvm = await startMvm(t, lv, {
    log: { level: 'warn' }, metrics: { port: metricsPort },
    power: powerSection(pd.address, 0.5, {
      startCapKHz: 2_000_000, periodMs: 50, minGapMs: 0, reports: { burst: 1000, perSecond: 1000 },
      rails: { 'set-frequency-cap': { dwellMs: 0, maxChanges: 1_000_000 } },
      policies: [{ name: 'sla-dvfs', params: { relaxSlack: 0, relaxAfterMs: 0 } }],
    }),
  });
  const bus = dbus.sessionBus({ busAddress: pd.address });
  bus.on('error', () => undefined);
  t.teardown(() => disconnectBus(bus));
  const client = await PowerdClient.connect({ bus });
  const changes: { at: number; up: boolean }[] = [];
  let waiter: { pred: (c: { at: number; up: boolean }) => boolean; resolve: (c: { at: number; up: boolean }) => void } | undefined;
  client.onCapChanged((c) => {
    const ch = { at: performance.now(), up: Number(c.new) > Number(c.old) };
    changes.push(ch);
    if (changes.length > 10_000) changes.splice(0, 5000);
    if (waiter?.pred(ch)) { waiter.resolve(ch); waiter = undefined; }
  });
  /** Resolves at the signal itself (no polling), or rejects after 5 s. */
  const next = (pred: (c: { at: number; up: boolean }) => boolean, what: string): Promise<{ at: number; up: boolean }> => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no CapChanged (${what}) within 5 s`)), 5000);
    waiter = { pred, resolve: (c) => { clearTimeout(timer); resolve(c); } };
  });
  await waitFor('the guest session', async () => (await status(mvm.control)).counters['guest_reports'] !== undefined && (await status(mvm.control)).vms >= 1);
  const out: number[] = [];
  for (let i = 0; i < samples + 5; i++) {
    await guest.report(false);
    const since = performance.now();
    await waitFor('a relax step', () => changes.some((c) => !c.up && c.at > since) || (i === 0 && changes.length === 0 ? true : undefined), 5000, 2);
    const raised = next((c) => c.up, 'the raise');
    const t0 = performance.now();
    await guest.report(true);
    const ev = await raised;
    if (i >= 5) out.push(ev.at - t0); // the first few warm the JIT
    if (i % 50 === 0) process.stderr.write(`latency sample ${i}/${samples}\n`);
  }
  await guest.report(false);
  const daemon = daemonLatency(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
  await mvm.proc.stop();
  // The powerd leg alone, for the breakdown: SetFrequencyCap from here to its CapChanged.
  const direct: number[] = [];
  for (let i = 0; i < Math.min(samples, 200); i++) {
    const changed = next(() => true, 'direct');
    const t0 = performance.now();
    await client.setMaxFrequency(i % 2 === 0 ? 2_500_000 : 2_400_000);
    const ev = await changed;
    direct.push(ev.at - t0);
  }
  const sorted = out.sort((a, b) => a - b);
  const d = direct.sort((a, b) => a - b);
  const r = (x: number): number => Math.round(x * 100) / 100;
  return { p50Ms: r(pct(sorted, 50)), p99Ms: r(pct(sorted, 99)), maxMs: r(sorted[sorted.length - 1] as number), samples: sorted.length, powerdOnlyP50Ms: r(pct(d, 50)), powerdOnlyP99Ms: r(pct(d, 99)), daemon };
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
  const dir = await tempDir(t);
  await startProcess(t, process.execPath, ['--import', 'tsx', join(root, 'bench/lib/mvm-agents.ts'), dir, String(agents), '1000'], { cwd: root, ready: /ready/, readyTimeoutMs: 60_000 });
  for (let i = 0; i < agents; i++) await lv.startVm(`g${i}`, randomUUID(), join(dir, `g${i}.sock`));
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
  const samples = arg(args, 'samples', 300);
  const agents = arg(args, 'agents', 100);
  const seconds = arg(args, 'seconds', 20);
  const ri = args.indexOf('--runtime');
  const runtime = ri >= 0 ? args[ri + 1] : 'shipped';
  if (runtime !== 'shipped' && runtime !== 'tsx') throw new Error('--runtime: expected shipped or tsx');
  const teardowns: (() => unknown)[] = [];
  const t: Teardown = { teardown: (fn) => { teardowns.push(fn); } };
  try {
    const bundleDir = await tempDir(t, 'vmanage-bench-bundle-');
    const pd = runtime === 'shipped' ? await startShippedPowerd(t, bundleDir) : await startPowerd(t);
    const startMvm: StartMvm = runtime === 'shipped' ? (tt, l, extra) => startShippedMvm(tt, l, bundleDir, extra) : (tt, l, extra) => startMvmDaemon(tt, l, extra);
    const lv = await startLibvirt(t);
    await lv.raw.call(TEST_DOMAIN, 'org.libvirt.Domain', 'Destroy', 'u', [0]); // no SLA reports: would block relaxing
    const lat = await latency(t, pd, lv, startMvm, samples);
    process.stderr.write(`latency ${JSON.stringify(lat)}; load with ${agents} agents for ${seconds} s\n`);
    const res = await load(t, pd, lv, startMvm, agents, seconds);
    return { runtime, ...lat, ...res, loadAvg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number) };
  } finally {
    for (const fn of teardowns.reverse()) await fn();
  }
}
