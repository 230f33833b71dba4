// A real leader core (SQLite store, unix-socket M-channel server) with host daemons played by the
// real LeaderLink over unix sockets, and the HTTP API started on it on a free port.
import { EventEmitter } from 'node:events';
import { request } from 'node:http';
import type { Registry } from 'prom-client';
import type { LeaderConfig } from '../../src/daemons/leader/config.js';
import { startHttp, type HttpOptions, type HttpServer } from '../../src/daemons/leader/http.js';
import { startLeader, type Leader } from '../../src/daemons/leader/leader.js';
import type { TermEvents, TermSource } from '../../src/daemons/leader/term.js';
import { systemClock } from '../../src/adapters/clock.js';
import { LeaderLink, type MigrateCommand } from '../../src/adapters/leader-link/link.js';
import { unixConnector } from '../../src/mchannel/index.js';
import type { HostUpdate } from '../../src/protocol/leader.js';
import { leaderConfig, quiet, registered, registration, splitCovers, uuidOf, type TestHost, type TestVm } from '../leader-daemon/support.js';
import { waitFor, type Teardown } from '../support/proc.js';

export { quiet, uuidOf };

/** A VM as its host reports it; `name` comes from the guest's domain: untrusted text. */
export interface NamedVm extends TestVm { readonly name?: string }

/**
 * A host daemon's real LeaderLink on the leader's unix socket (a unix peer names no host: the
 * registration does), reporting its VMs (with names) every 50 ms.
 */
export interface NamedHost extends TestHost {
  /** The migrate commands the leader sent (accepted: the test reports their progress). */
  readonly orders: MigrateCommand[];
}

export function startHost(t: Teardown, socket: string, host: string, vms: NamedVm[]): NamedHost {
  const orders: MigrateCommand[] = [];
  const state = { watts: 150, vms, budgetWatts: 0 };
  const budgets: number[] = [];
  const commands: string[] = [];
  const update = (): HostUpdate => ({
    ts: Date.now(), watts: state.watts, budgetWatts: state.budgetWatts || 200, budgetSource: state.budgetWatts ? 'leader' : 'config', capKHz: 2_400_000, reliability: 1,
    vms: state.vms.map((v: NamedVm) => ({ uuid: v.uuid, cpuUtil: v.cpuUtil, sla: 'ok' as const, vcpus: v.vcpus ?? 2, memoryKiB: v.memoryKiB ?? 1 << 20, ...(v.name !== undefined ? { name: v.name } : {}) })),
  });
  const link = new LeaderLink({
    connector: unixConnector(socket, { label: host }), host, clock: systemClock, log: quiet, updateMs: 50,
    registration: () => registration(host), update,
    onBudget: (w) => { budgets.push(w); state.budgetWatts = w; }, onConnection: () => {}, onCommand: (op) => commands.push(op),
    heartbeatMs: 200, deadAfterMs: 1000,
    commands: {
      migrate: (c) => { orders.push(c); return { done: true }; },
      abortMigration: () => ({ done: true }),
      powerOff: () => ({ done: false, reason: 'test hosts stay on' }),
    },
  });
  t.teardown(() => link.stop());
  return { link, budgets, state, commands, orders };
}

/** A term someone else holds: this leader stays a standby that names `leaderId`. */
export function heldElsewhere(leaderId: string): () => TermSource {
  return () => {
    const events = new EventEmitter<TermEvents>();
    return { events, token: undefined, async start() { events.emit('leader', leaderId); }, async stop() {} };
  };
}

export interface Cluster {
  readonly leader: Leader;
  readonly http: HttpServer;
  readonly url: string;
  readonly hosts: Map<string, NamedHost>;
  readonly cfg: LeaderConfig;
}

export interface ClusterOptions {
  /** Host name -> its VMs. */
  readonly hosts?: Record<string, NamedVm[]>;
  readonly standbyOf?: string;
  readonly http?: Partial<HttpOptions>;
  readonly cfg?: Record<string, unknown>;
}

export async function startCluster(t: Teardown, o: ClusterOptions = {}): Promise<Cluster> {
  const cfg = await leaderConfig(t, o.cfg ?? {});
  const leader = await startLeader(cfg, quiet, {
    channel: { heartbeatMs: 200, deadAfterMs: 1000, sessionLingerMs: 500 },
    ...(o.standbyOf !== undefined ? { term: heldElsewhere(o.standbyOf) } : {}),
  });
  t.teardown(() => leader.stop());
  const http = await startHttp(leader, { host: '127.0.0.1', port: 0, log: quiet, registry: leader.registry as Registry, ...o.http });
  t.teardown(() => http.close());
  const hosts = new Map<string, NamedHost>();
  for (const [name, vms] of Object.entries(o.hosts ?? {})) hosts.set(name, startHost(t, leader.address, name, vms));
  if (o.standbyOf === undefined) {
    for (const h of hosts.values()) await registered(h);
    const want = [...hosts.values()].reduce((n, h) => n + h.state.vms.length, 0);
    await waitFor('VMs known to the leader', () => leader.vms().length === want && leader.hosts().every((h) => h.measuredWatts !== undefined));
    // Until a split covers it, a new host runs on its idle-power placeholder and takes no VM.
    if (hosts.size > 0) await splitCovers(leader, hosts.size);
  }
  return { leader, http, url: http.url, hosts, cfg };
}

export interface Answer<T = unknown> { status: number; body: T; text: string; headers: Record<string, string | string[] | undefined> }

/** One HTTP request with a raw body (so tests can send anything); JSON answers parsed. */
export function call<T = unknown>(url: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> {
  const raw = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, {
      method,
      headers: { ...(raw !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        if ((res.headers['content-type'] ?? '').includes('json')) {
          try { parsed = JSON.parse(text); } catch { parsed = text; }
        }
        resolve({ status: res.statusCode ?? 0, body: parsed as T, text, headers: res.headers });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (raw !== undefined) req.write(raw);
    req.end();
  });
}
