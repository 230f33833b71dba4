// Helpers for the leader daemon's tests: a leader started in-process on a memory "network" whose
// connections carry each host's own identity (as a TLS certificate CN would), and host daemons
// played by the REAL LeaderLink (the host's side of the link), with their state in plain objects.
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { pino } from 'pino';
import { systemClock } from '../../src/adapters/clock.js';
import { LeaderLink, type LeaderCommandHandlers } from '../../src/adapters/leader-link/link.js';
import { parseLeaderConfig, type LeaderConfig } from '../../src/daemons/leader/config.js';
import { startLeader, type Leader, type LeaderDeps } from '../../src/daemons/leader/leader.js';
import type { TermEvents, TermSource } from '../../src/daemons/leader/term.js';
import { ErrorCodes, VmanageError } from '../../src/domain/errors.js';
import { memoryPair, type Connection, type Connector, type Listener } from '../../src/mchannel/index.js';
import type { HostRegister, HostUpdate } from '../../src/protocol/leader.js';
import { tempDir, waitFor, type Teardown } from '../support/proc.js';

export const quiet = pino({ level: process.env['LEADER_TEST_LOG'] ?? 'silent' });

/** One listener, many connectors: each connection's peer identity is the connector's name. */
export interface MemoryHub {
  readonly listener: Listener;
  connector(name: string): Connector;
  /** Ends every open connection of `name` (both ends). */
  cut(name: string): void;
}

export function memoryHub(serverName = 'leader'): MemoryHub {
  let handler: ((c: Connection) => void) | undefined;
  let closed = false;
  const open = new Map<string, Connection[]>();
  return {
    listener: { kind: 'memory', address: serverName, onConnection(h) { handler = h; }, async close() { closed = true; } },
    connector(name) {
      return {
        kind: 'memory', target: serverName,
        async connect() {
          if (closed || !handler) throw new VmanageError(ErrorCodes.Unavailable, `memory listener ${serverName} is not accepting`);
          const [client, server] = memoryPair(name, serverName);
          open.set(name, [...(open.get(name) ?? []), client]);
          handler(server);
          return client;
        },
      };
    },
    cut(name) {
      for (const c of open.get(name) ?? []) c.stream.destroy();
      open.delete(name);
    },
  };
}

export async function leaderConfig(t: Teardown, over: Record<string, unknown> = {}, dbPath?: string): Promise<LeaderConfig> {
  const dir = await tempDir(t, 'vmanage-leader-');
  return parseLeaderConfig({
    id: 'cl1', listen: { unix: join(dir, 'leader.sock') }, store: { path: dbPath ?? join(dir, 'leader.db') },
    cluster: { budgetWatts: 1000 }, periods: { tickMs: 50, splitMs: 200, auditMs: 60_000 }, failure: { hostTimeoutMs: 400, migrationTimeoutMs: 3000 },
    ...over,
  });
}

export async function startTestLeader(t: Teardown, cfg: LeaderConfig, hub = memoryHub(), deps: Pick<LeaderDeps, 'term'> = {}): Promise<{ leader: Leader; hub: MemoryHub }> {
  // The memory transport holds no handle and systemClock's timers are unref'd: without this the
  // test worker's event loop could run empty while a test awaits a close or a timer.
  const keepAlive = setInterval(() => {}, 1000);
  t.teardown(() => clearInterval(keepAlive));
  const leader = await startLeader(cfg, quiet, { ...deps, listener: hub.listener, channel: { heartbeatMs: 200, deadAfterMs: 1000, sessionLingerMs: 500 } });
  t.teardown(() => leader.stop());
  return { leader, hub };
}

export interface TestVm { uuid: string; cpuUtil: number; vcpus?: number; memoryKiB?: number }

export interface TestHost {
  readonly link: LeaderLink;
  readonly budgets: number[];
  readonly state: { watts: number; vms: TestVm[]; budgetWatts: number };
  readonly commands: string[];
}

export function registration(host: string, over: Partial<HostRegister> = {}): HostRegister {
  return {
    host, cpus: 8, memoryKiB: 16 << 20, power: { idleWatts: 100, peakWatts: 300, measured: false }, reliability: 1, trust: 'trusted',
    frequency: { minKHz: 800_000, maxKHz: 3_000_000 }, migrationUri: `qemu+tls://${host}/system`, ...over,
  };
}

/** A host daemon's leader link (the real one) with its connection named `identity`. */
export function startTestHost(t: Teardown, hub: MemoryHub, host: string, o: { identity?: string; reg?: Partial<HostRegister>; watts?: number; vms?: TestVm[]; commands?: LeaderCommandHandlers; updateMs?: number } = {}): TestHost {
  const state = { watts: o.watts ?? 150, vms: o.vms ?? [], budgetWatts: 0 };
  const budgets: number[] = [];
  const commands: string[] = [];
  const update = (): HostUpdate => ({
    ts: Date.now(), watts: state.watts, budgetWatts: state.budgetWatts || 200, budgetSource: state.budgetWatts ? 'leader' : 'config', capKHz: 3_000_000, reliability: 1,
    vms: state.vms.map((v) => ({ uuid: v.uuid, cpuUtil: v.cpuUtil, sla: 'ok' as const, vcpus: v.vcpus ?? 2, memoryKiB: v.memoryKiB ?? 1 << 20 })),
  });
  const link = new LeaderLink({
    connector: hub.connector(o.identity ?? host), host, clock: systemClock, log: quiet, updateMs: o.updateMs ?? 50,
    registration: () => registration(host, o.reg), update,
    onBudget: (w) => { budgets.push(w); state.budgetWatts = w; }, onConnection: () => {}, onCommand: (op) => commands.push(op),
    ...(o.commands ? { commands: o.commands } : {}), heartbeatMs: 200, deadAfterMs: 1000, refusedPauseMs: 100,
  });
  t.teardown(() => link.stop());
  return { link, budgets, state, commands };
}

export async function registered(h: TestHost): Promise<void> {
  await waitFor('registration', () => h.link.registered);
}

export const uuidOf = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

/** Until a budget split has covered every one of the leader's `n` hosts (a new host runs on an
 *  idle-power placeholder until then, and is no migration destination). */
export async function splitCovers(leader: Pick<Leader, 'budgets'>, n: number): Promise<void> {
  await waitFor(`a split over all ${n} hosts`, () => {
    const hs = leader.budgets().hosts;
    return hs.length === n && hs.every((h) => h.floorWatts > 0);
  });
}

/**
 * A term an etcd election would drive, driven by the test: it starts as a standby that sees
 * leader cl0, or (electOnStart) is elected at once with that token.
 */
export class DrivenTerm implements TermSource {
  readonly events = new EventEmitter<TermEvents>();
  token: number | undefined;
  constructor(private readonly electOnStart?: number) {}
  async start(): Promise<void> {
    if (this.electOnStart === undefined) this.events.emit('leader', 'cl0');
    else this.elect(this.electOnStart);
  }
  async stop(): Promise<void> {}
  elect(token: number): void {
    this.token = token;
    this.events.emit('leader', 'cl1');
    this.events.emit('elected', token);
  }
  depose(): void {
    this.token = undefined;
    this.events.emit('deposed', 'lease lost');
    this.events.emit('leader', 'cl0');
  }
}
