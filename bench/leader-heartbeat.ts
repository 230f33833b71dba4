// `npm run bench -- leader-heartbeat [windowS]` (and `npm run bench -- leader`, which calls
// heartbeatCpu): the leader's CPU for all hosts at 1 Hz over TLS. A real vmanage-leader process
// (src/daemons/leader/main.ts -> startLeader, TCP + mutual TLS, its SQLite store in a file as
// deployed: an in-memory one would count the decision journal in the RSS) and simulated
// host daemons in child processes (bench/lib/leader-heartbeat-client.ts: the real LeaderLink, one
// TLS connection and certificate per host, host.update with 10 VMs every second). After every
// host registered and a warm-up, the leader process's CPU time (utime + stime from /proc) over a
// window is heartbeatCpuPct (100 = one core). Clients share the machine's cores with the leader:
// CPU time, not wall time, is what is reported.
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchPki } from './lib/leader-heartbeat-certs.js';
import type { ClientSpec } from './lib/leader-heartbeat-client.js';

const root = new URL('..', import.meta.url).pathname;
const r1 = (x: number): number => Math.round(x * 10) / 10;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const TICK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** CPU seconds (user + system) the process has used so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK; // fields 14, 15 of the whole line
}

function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? r1(Number(m[1]) / 1024) : 0;
}

interface Client { readonly proc: ChildProcess; registered: number; rampDone: boolean }

function ask(c: Client): Promise<{ registered: number; updates: number; registrationFailures: number }> {
  return new Promise((resolve) => {
    const on = (m: { op?: string }): void => {
      if (m.op !== 'stats') return;
      c.proc.off('message', on);
      resolve(m as unknown as { registered: number; updates: number; registrationFailures: number });
    };
    c.proc.on('message', on);
    c.proc.send({ op: 'stats' });
  });
}

export interface HeartbeatOptions {
  /** Measuring window after the warm-up, s. */
  readonly windowS?: number;
  readonly warmupS?: number;
  /** Simulated hosts per client process. */
  readonly hostsPerClient?: number;
  /** Longest ramp-up, s: after it the window is measured with the hosts registered by then. */
  readonly rampLimitS?: number;
}

export async function heartbeatCpu(hosts: number, o: HeartbeatOptions = {}): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'vmanage-bench-heartbeat-'));
  const procs: ChildProcess[] = [];
  try {
    const pki = benchPki();
    const leaf = pki.leaf('leader');
    for (const [f, body] of [['ca.crt', pki.caPem], ['leader.crt', leaf.cert], ['leader.key', leaf.key]] as const) writeFileSync(join(dir, f), body, { mode: 0o600 });
    const port = await freePort();
    writeFileSync(join(dir, 'leader.json'), JSON.stringify({
      id: 'bench', listen: { tls: { host: '127.0.0.1', port, ca: join(dir, 'ca.crt'), cert: join(dir, 'leader.crt'), key: join(dir, 'leader.key') } },
      store: { path: join(dir, 'leader.db') }, http: { port: 0 }, cluster: { budgetWatts: hosts * 200 }, failure: { hostTimeoutMs: 15_000 }, log: { level: 'warn' },
    }));
    // VMANAGE_BENCH_CPU_PROF=DIR: the leader writes a V8 CPU profile there when it exits.
    const prof = process.env.VMANAGE_BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.VMANAGE_BENCH_CPU_PROF] : [];
    const leader = spawn(process.execPath, [...prof, '--import', 'tsx', join(root, 'src/daemons/leader/main.ts'), '-c', join(dir, 'leader.json')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(leader);
    let leaderOut = '';
    leader.stdout?.on('data', (d: Buffer) => { leaderOut = (leaderOut + d.toString()).slice(-4000); });
    leader.stderr?.on('data', (d: Buffer) => { leaderOut = (leaderOut + d.toString()).slice(-4000); });
    // Ready when the port accepts (the leader logs at warn: no ready line).
    for (let i = 0; ; i++) {
      if (leader.exitCode !== null) throw new Error(`vmanage-leader exited: ${leaderOut}`);
      const up = await new Promise<boolean>((resolve) => {
        const s = createServer().listen(port, '127.0.0.1');
        s.once('listening', () => s.close(() => resolve(false)));
        s.once('error', () => resolve(true));
      });
      if (up) break;
      if (i > 600) throw new Error('vmanage-leader did not listen within 60 s');
      await sleep(100);
    }
    const per = o.hostsPerClient ?? 5000;
    const clients: Client[] = [];
    const t0 = Date.now();
    for (let from = 0, n = 0; from < hosts; from += per, n++) {
      const spec: ClientSpec = {
        port, ca: pki.caPem, key: leaf.key, batch: 50,
        hosts: Array.from({ length: Math.min(per, hosts - from) }, (_, i) => ({ id: `h${String(from + i).padStart(5, '0')}`, index: from + i, cert: pki.leaf(`h${String(from + i).padStart(5, '0')}`).cert })),
      };
      writeFileSync(join(dir, `client-${n}.json`), JSON.stringify(spec));
      const proc = fork(join(root, 'bench/lib/leader-heartbeat-client.ts'), [join(dir, `client-${n}.json`)], { execArgv: ['--import', 'tsx'], cwd: root, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      procs.push(proc);
      const c: Client = { proc, registered: 0, rampDone: false };
      proc.on('message', (m: { op?: string; registered?: number; rampDone?: boolean }) => {
        if (m.op === 'progress') { c.registered = m.registered ?? 0; c.rampDone ||= m.rampDone === true; }
      });
      clients.push(c);
    }
    const total = (): number => clients.reduce((s, c) => s + c.registered, 0);
    while (!clients.every((c) => c.rampDone)) {
      if (leader.exitCode !== null) throw new Error(`vmanage-leader exited: ${leaderOut}`);
      if (Date.now() - t0 > (o.rampLimitS ?? 600) * 1000) break; // measured with those registered (reported)
      await sleep(500);
    }
    const rampS = (Date.now() - t0) / 1000;
    process.stderr.write(`heartbeat ${hosts}: ${total()} registered in ${rampS.toFixed(1)} s\n`);
    await sleep((o.warmupS ?? 5) * 1000);
    const windowS = o.windowS ?? 20;
    const s0 = await Promise.all(clients.map(ask));
    const c0 = cpuSeconds(leader.pid!);
    const w0 = Date.now();
    await sleep(windowS * 1000);
    const c1 = cpuSeconds(leader.pid!);
    const wall = (Date.now() - w0) / 1000;
    const s1 = await Promise.all(clients.map(ask));
    const sum = (xs: { updates: number }[]): number => xs.reduce((n, x) => n + x.updates, 0);
    const updates = sum(s1) - sum(s0);
    return {
      hosts, registered: s1.reduce((n, x) => n + x.registered, 0), clientProcesses: clients.length,
      heartbeatCpuPct: r1(((c1 - c0) / wall) * 100),
      updatesPerS: r1(updates / wall),
      // Leader CPU per host.update (with the channel heartbeats and acks around it), µs.
      cpuUsPerUpdate: updates > 0 ? r1(((c1 - c0) * 1e6) / updates) : null, windowS: r1(wall), rampS: r1(rampS), leaderRssMB: rssMB(leader.pid!),
      registrationFailures: s1.reduce((n, x) => n + x.registrationFailures, 0),
    };
  } finally {
    for (const p of procs.reverse()) if (p.exitCode === null) p.kill('SIGTERM');
    await sleep(500);
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

export const heartbeatAgainst = 'a vmanage-leader process (src/daemons/leader/main.ts -> startLeader) over TCP + mutual TLS; hosts are the real LeaderLink in child processes';

export default async function leaderHeartbeat(args: string[]): Promise<object> {
  const windowS = Number(args[0] ?? 20);
  return { hosts1000: await heartbeatCpu(1000, { windowS }), hosts10000: await heartbeatCpu(10_000, { windowS }), measuredAgainst: heartbeatAgainst };
}
