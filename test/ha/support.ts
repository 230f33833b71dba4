// Real peers for the HA tests: vmanage-leader processes (etcd election, or the local term) on unix
// sockets, and a vmanage-mvm host daemon (libvirt test driver, sim sensor, powerd) that knows
// every leader endpoint. Log lines are read from each process's JSON output.
import { writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { requestStatus } from '../../src/cli/vmanagectl.js';
import type { MvmStatus } from '../../src/daemons/mvm/mvm.js';
import { powerSection, startLibvirt, startMvmDaemon, startPowerd, type MvmProcess } from '../mvm/support.js';
import { startProcess, waitFor, type Started, type Teardown } from '../support/proc.js';

const root = new URL('../..', import.meta.url).pathname;
/** Lease TTL of the tests' elections, s. */
export const TTL = 4;

export type LogLine = Record<string, unknown> & { time: number };

export function lines(p: Started, event: string): LogLine[] {
  return p.output().split('\n').filter((l) => l.includes(`"event":"${event}"`)).map((l) => JSON.parse(l) as LogLine);
}

export interface LeaderSpec {
  readonly id: string;
  readonly dir: string;
  /** etcd client URL; absent: the local SQLite term (no election). */
  readonly etcd?: string;
  readonly budgetWatts?: number;
}

export function socketOf(s: LeaderSpec): string {
  return join(s.dir, `${s.id}.sock`);
}

/** Starts a vmanage-leader process; resolves once it is ready (leading or standing by). */
export async function startLeaderProcess(t: Teardown, s: LeaderSpec): Promise<Started> {
  const file = join(s.dir, `${s.id}.yaml`);
  writeFileSync(file, stringify({
    id: s.id, listen: { unix: socketOf(s) }, store: { path: join(s.dir, `${s.id}.db`) },
    ...(s.etcd ? { etcd: { endpoints: [s.etcd], name: 'ha-test', ttlSeconds: TTL } } : {}),
    http: { host: '127.0.0.1', port: 0 },
    cluster: { budgetWatts: s.budgetWatts ?? 360 }, periods: { tickMs: 200, splitMs: 300, auditMs: 600_000 },
    failure: { hostTimeoutMs: 3000 }, log: { level: 'info' },
  }));
  return await startProcess(t, process.execPath, ['--import', 'tsx', join(root, 'src/daemons/leader/main.ts'), '--config', file], {
    cwd: root, ready: /vmanage-leader ready/, readyTimeoutMs: 60_000,
  });
}

/** The token of the first `leader.elected` line at or after `since` (epoch ms). */
export async function electedAfter(p: Started, since: number, timeoutMs = 15_000): Promise<LogLine & { token: number }> {
  try {
    return await waitFor(`${p.pid} elected`, () => lines(p, 'leader.elected').find((l) => l.time >= since), timeoutMs, 20) as LogLine & { token: number };
  } catch (err) {
    throw new Error(`${(err as Error).message}\nits last lines:\n${p.output().split('\n').slice(-12).join('\n')}`);
  }
}

export interface Host { readonly mvm: MvmProcess; status(): Promise<MvmStatus> }

/** One host daemon h1 whose leader endpoints are the given sockets (or mvm endpoint objects), in that order. */
export async function startHost(t: Teardown, endpoints: readonly (string | Record<string, unknown>)[]): Promise<Host> {
  const pd = await startPowerd(t);
  const lv = await startLibvirt(t);
  const mvm = await startMvmDaemon(t, lv, {
    host: 'h1',
    power: powerSection(pd.address, 0.5, { budget: { watts: 200, safeWatts: 150 } }),
    leader: { endpoints: endpoints.map((e) => (typeof e === 'string' ? { unix: e } : e)), updateMs: 200, migrationUri: 'test+tcp://h1/default', platformRoot: null },
  });
  return { mvm, status: async () => await requestStatus(mvm.control) as MvmStatus };
}

/** The host's `leader.registered` lines (token, endpoint), oldest first. */
export function registrations(h: Host): (LogLine & { token: number; endpoint: string })[] {
  return lines(h.mvm.proc, 'leader.registered') as (LogLine & { token: number; endpoint: string })[];
}

/** The host's count of budgets accepted so far. */
export async function budgetsTaken(h: Host): Promise<number> {
  return (await h.status()).counters['leader_budgets'] ?? 0;
}

/**
 * Waits until the host registered under `token` (the leader holding it) and took more budgets
 * than `before`, running under the leader's budget; returns when it registered (epoch ms).
 */
export async function servedBy(h: Host, token: number, before: number, timeoutMs = 20_000): Promise<number> {
  try {
    const reg = await waitFor(`h1 registered with token ${token}`, () => registrations(h).find((r) => r.token === token), timeoutMs, 20);
    await waitFor(`h1 under a budget from the leader with token ${token}`, async () => {
      const s = await h.status();
      return s.power?.budgetSource === 'leader' && (s.counters['leader_budgets'] ?? 0) > before;
    }, timeoutMs, 50);
    return reg.time;
  } catch (err) {
    // What the host saw of its leaders, for the failure message.
    const seen = h.mvm.proc.output().split('\n').filter((l) => /"part":"leader"/.test(l) && !/update not sent/.test(l)).slice(-15).join('\n');
    throw new Error(`${(err as Error).message}\nhost h1, last leader lines:\n${seen}`);
  }
}

/** A TCP proxy to `target` (host:port) that can be frozen: a network partition for one process. */
export interface Partitionable { readonly url: string; freeze(): void }

export async function partitionableProxy(t: Teardown, target: URL): Promise<Partitionable> {
  const sockets = new Set<Socket>();
  let frozen = false;
  const server = createServer((inbound) => {
    if (frozen) { inbound.destroy(); return; }
    const outbound = connect(Number(target.port), target.hostname);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => { inbound.destroy(); outbound.destroy(); });
      s.on('close', () => sockets.delete(s));
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => { for (const s of sockets) s.destroy(); server.close(); });
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    // Bytes stop flowing both ways; connections stay open (as in a partition, nothing is reset).
    freeze() {
      frozen = true;
      for (const s of sockets) { s.unpipe(); s.pause(); }
    },
  };
}
