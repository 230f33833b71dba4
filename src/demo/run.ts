// `vmanage demo`: the demo cluster on one machine. It builds the simulated world (PlanetLab
// traces, SPECpower hosts), serves it on a unix socket with real guest agents on per-VM channel
// sockets, starts one real vmanage-leader (when its entry point exists) and N real vmanage-mvm
// processes on simulated hosts, narrates what the daemons log as it happens, tells the world the
// budget each host runs under (read from the host daemons' control sockets) so that budget
// violations are measured against the true power, and on --duration, Ctrl-C or SIGTERM stops
// every child by PID and prints the summary (--json: one object on stdout).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { systemClock } from '../adapters/clock.js';
import { loadWorkload, type Workload } from '../sim/workload.js';
import { parseSyntheticSpec, syntheticWorkload } from '../sim/synthetic.js';
import { controlSocket, demoPaths, leaderConfig, mvmConfig, writeJson, type DemoPaths } from './configs.js';
import { Narrator } from './narrate.js';
import { daemonEntry, firstFreePort, startChild, type Child } from './procs.js';
import { buildScenario, type DemoScenario } from './scenario.js';
import { askStatus, summarise, type DemoSummary } from './summary.js';
import { World } from './world.js';
import { WorldServer } from './world-server.js';

export const DEFAULT_TRACE = '/work/shared/data/planetlab/20110303.csv';

export interface DemoOptions {
  readonly hosts: number;
  /** Stop after this many seconds; undefined: until Ctrl-C / SIGTERM. */
  readonly durationS?: number;
  readonly json: boolean;
  /** Trace file (PlanetLab CSV), synthetic[:VMS[:SEED]], or undefined: the default day if
   *  present, else the built-in synthetic day. */
  readonly workload?: string;
  /** Wall time of one 300 s trace step, ms. */
  readonly stepMs: number;
  readonly vmsPerHost: number;
  readonly httpPort: number;
  /** Keep the temporary directory (configs, logs) for inspection. */
  readonly keep: boolean;
  /** Without the leader even when it exists (host daemons alone). */
  readonly noLeader: boolean;
  /** Ends the demo like Ctrl-C (tests, tools). */
  readonly signal?: AbortSignal;
}

export const DEMO_DEFAULTS: DemoOptions = { hosts: 4, json: false, stepMs: 3000, vmsPerHost: 2, httpPort: 8470, keep: false, noLeader: false };

function workloadFor(o: DemoOptions): Workload {
  const synthetic = o.workload ? parseSyntheticSpec(o.workload) : undefined;
  if (synthetic) return syntheticWorkload(synthetic);
  if (o.workload) return loadWorkload(o.workload);
  return existsSync(DEFAULT_TRACE) ? loadWorkload(DEFAULT_TRACE) : syntheticWorkload({ vms: 400, intervals: 288, seed: 1 });
}

interface Running {
  readonly world: World;
  readonly server: WorldServer;
  readonly children: Child[];
  leader?: Child | undefined;
  readonly dashboard?: string | undefined;
}

export async function runDemo(o: DemoOptions, say: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<DemoSummary> {
  const t0 = Date.now();
  const stamp = (s: string): void => say(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${s}`);
  const dir = mkdtempSync(join(tmpdir(), 'vmanage-demo-'));
  const paths = demoPaths(dir);
  const log = pino({ name: 'vmanage-demo', level: 'info' }, pino.destination({ dest: join(dir, 'world.log'), sync: false }));
  const workload = workloadFor(o);
  const scenario = buildScenario({ hosts: o.hosts, vmsPerHost: o.vmsPerHost, workload });
  const world = new World({ clock: systemClock, hosts: scenario.hosts, vms: scenario.vms, stepMs: o.stepMs, latency: { baseMs: 20, targetMs: 100 }, bandwidthMiBps: 600 });
  const narrator = new Narrator((uuid) => world.vmName(uuid));
  stamp(`vmanage demo: ${o.hosts} simulated hosts, ${scenario.vms.length} VMs with PlanetLab-style load from ${scenario.source} (one 5-minute trace step every ${o.stepMs / 1000} s); working files in ${dir}`);
  const server = await WorldServer.start({ world, clock: systemClock, socketPath: paths.world, channelDir: paths.channels, log });
  const run: Running = { world, server, children: [] };
  let failed: string | undefined;
  const onLine = (name: string, line: string): void => {
    const s = narrator.line(name, line);
    if (s) stamp(s);
  };
  const watch = (c: Child): void => {
    void c.exited.then((code) => { if (!stopping) failed ??= `${c.name} exited with ${code ?? c.child.signalCode}:\n${c.tail()}`; wake(); });
  };
  let stopping = false;
  let wake: () => void = () => {};
  let offSignals: () => void = () => {};
  try {
    const leader = o.noLeader ? undefined : daemonEntry('leader');
    let dashboard: string | undefined;
    if (leader) {
      const port = await firstFreePort(o.httpPort);
      const cfg = writeJson(join(dir, 'leader.json'), leaderConfig(scenario, paths, port));
      run.leader = startChild('leader', leader.cmd, [...leader.args, '-c', cfg], join(dir, 'leader.log'), onLine);
      watch(run.leader);
      await waitForLine(run.leader, /"event":"leader\.ready"/, 30_000);
      dashboard = `http://127.0.0.1:${port}/`;
      stamp(`leader up (pid ${run.leader.pid}); dashboard: ${dashboard}`);
    } else {
      stamp(o.noLeader ? 'no leader (--no-leader): host daemons alone, migrations are only asked for' : 'no leader entry point in this build: host daemons alone, migrations are only asked for');
    }
    Object.assign(run, { dashboard });
    await startHosts(run, scenario, paths, !!leader, onLine, watch);
    world.restart();
    stamp(`${o.hosts} host daemons up (pids ${run.children.map((c) => c.pid).join(', ')}); the traces start now; ${scenario.hot} gets the rising load`);
    const poller = pollBudgets(run, scenario, paths);
    const loadNote = narrateLoad(world, scenario, stamp);
    await new Promise<void>((resolve) => {
      wake = () => { if (failed) resolve(); };
      const timer = o.durationS !== undefined ? setTimeout(resolve, o.durationS * 1000) : undefined;
      // Ctrl-C reaches the children too (same process group): they stop by themselves, which
      // is no failure.
      const onSignal = (): void => { stopping = true; clearTimeout(timer); resolve(); };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      if (o.signal?.aborted) onSignal();
      o.signal?.addEventListener('abort', onSignal, { once: true });
      offSignals = () => { process.off('SIGINT', onSignal); process.off('SIGTERM', onSignal); o.signal?.removeEventListener('abort', onSignal); };
    });
    stopping = true;
    clearInterval(poller);
    clearInterval(loadNote);
    world.tick();
    const pids = [...(run.leader ? [run.leader.pid] : []), ...run.children.map((c) => c.pid)];
    const summary = summarise({ narrator, world, scenario, startedAt: t0, dashboard, leader: !!leader, failed, pids });
    stamp('stopping: every host daemon and the leader by PID');
    return summary;
  } finally {
    stopping = true;
    // The signal handlers stay until every child is stopped: a second Ctrl-C or SIGTERM while
    // stopping must not kill the demo and leave its daemons behind.
    await Promise.all(run.children.map((c) => c.stop()));
    await run.leader?.stop();
    await server.close().catch(() => {});
    offSignals();
    log.flush();
    if (!o.keep) rmSync(dir, { recursive: true, force: true });
    else stamp(`kept ${dir}`);
  }
}

async function waitForLine(c: Child, re: RegExp, timeoutMs: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`${c.name} not ready within ${timeoutMs} ms:\n${c.tail()}`)); }, timeoutMs);
    const onData = (b: Buffer): void => { if (re.test(b.toString()) || re.test(c.tail())) { off(); resolve(); } };
    const off = (): void => { clearTimeout(timer); c.child.stdout?.off('data', onData); c.child.stderr?.off('data', onData); };
    c.child.stdout?.on('data', onData);
    c.child.stderr?.on('data', onData);
    void c.exited.then((code) => { off(); reject(new Error(`${c.name} exited with ${code} before it was ready:\n${c.tail()}`)); });
  });
}

async function startHosts(run: Running, s: DemoScenario, p: DemoPaths, withLeader: boolean, onLine: (n: string, l: string) => void, watch: (c: Child) => void): Promise<void> {
  const mvm = daemonEntry('mvm');
  if (!mvm) throw new Error('the vmanage-mvm entry point is missing (run npm run build)');
  for (const h of s.hosts) {
    const cfg = writeJson(join(p.dir, `${h.name}.json`), mvmConfig(h.name, s, p, withLeader));
    const c = startChild(h.name, mvm.cmd, [...mvm.args, '-c', cfg], join(p.dir, `${h.name}.log`), onLine);
    run.children.push(c);
    watch(c);
  }
  await Promise.all(run.children.map((c) => waitForLine(c, /"event":"mvm\.ready"/, 30_000)));
}

/** Tells the world each host's budget in force (from its control socket) every 250 ms. */
function pollBudgets(run: Running, s: DemoScenario, p: DemoPaths): NodeJS.Timeout {
  let busy = false;
  return setInterval(() => {
    if (busy) return;
    busy = true;
    void Promise.all(s.hosts.map(async (h) => {
      const st = await askStatus(controlSocket(h.name, p)).catch(() => undefined);
      const b = st?.power?.budgetWatts;
      if (typeof b === 'number') run.world.setBudget(h.name, b);
    })).finally(() => { busy = false; });
  }, 250);
}

/** Says when the hot host's CPU demand moves by 15 points or more (from the world's model). */
function narrateLoad(world: World, s: DemoScenario, stamp: (l: string) => void): NodeJS.Timeout {
  let last = -1;
  return setInterval(() => {
    const now = world.now(s.hot);
    let demand = 0;
    for (const v of now.vms.values()) demand += v.demand;
    const spec = s.hosts.find((h) => h.name === s.hot);
    if (!spec) return;
    const pct = Math.round((demand / (spec.cpus * spec.mipsPerCore)) * 100);
    if (last < 0 || Math.abs(pct - last) >= 15) {
      stamp(`${s.hot}: its VMs now want ${pct} % of the host's full-clock CPU (power ${now.watts.toFixed(1)} W, budget ${world.budgetWatts(s.hot)?.toFixed(0) ?? '?'} W)`);
      last = pct;
    }
  }, 500);
}
