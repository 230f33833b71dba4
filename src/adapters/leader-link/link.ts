// The host daemon's M-channel to the Cluster Leader (client side; reconnects by itself). On every
// (re)connection it registers (capacity, power model, reliability, trust); it sends host.update
// every updateMs while connected, passes budgets and commands on, asks for migrations and reports
// the progress and end of migrations the leader ordered (host.migration-status).
// Fencing: every budget and command carries the leader term's token; one older than the newest
// seen (from a budget, a command or the registration reply) is refused and counted.
// Several endpoints (leader + standbys, mchannel/transports/failover.ts): a failed connection
// attempt moves to the next; a registration refused with "not the leader" closes the channel
// and, after refusedPauseMs, opens a new one to the next endpoint (a new leader, a new session).
// So does a registration reply whose token is older than the newest seen (a deposed leader that
// still answers). A registration that times out or fails is retried on the same session with
// exponential backoff (registerRetryMs doubling up to registerRetryMaxMs); a session the leader
// ends (bye: duplicate identity, refused host) is replaced by a new one after endedPauseMs, doubled
// for every further end within endedPauseMaxMs of the last (two hosts claiming one name take turns
// slowly, not in a loop).
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../../domain/clock.js';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import { Channel, type Connector } from '../../mchannel/index.js';
import {
  leaderFamily, type HostRegister, type HostRegisterReply, type HostUpdate, type LeaderBudget, type LeaderCommand, type MigrationStatus,
} from '../../protocol/leader.js';
import { createRegistry } from '../../protocol/registry.js';
import { failoverConnector, type FailoverConnector } from '../../mchannel/transports/failover.js';

export type MigrateCommand = Extract<LeaderCommand, { op: 'migrate' }>;
export type AbortMigrationCommand = Extract<LeaderCommand, { op: 'abort-migration' }>;
export type CreateVmCommand = Extract<LeaderCommand, { op: 'create-vm' }>;
/** `vm`: create-vm's new VM UUID. */
export interface CommandReply { readonly done: boolean; readonly reason?: string; readonly vm?: string }

/** What the host does for the leader's commands that act on VMs or the machine. */
export interface LeaderCommandHandlers {
  /** Starts the migration; resolves once it started (or was refused), not when it ends. */
  migrate(c: MigrateCommand): CommandReply | Promise<CommandReply>;
  abortMigration(c: AbortMigrationCommand): CommandReply | Promise<CommandReply>;
  powerOff(): CommandReply | Promise<CommandReply>;
  /** Defines and starts a VM (optional: absent, create-vm is refused). */
  createVm?(c: CreateVmCommand): CommandReply | Promise<CommandReply>;
}

export interface LeaderLinkOptions {
  /** One endpoint, or the leader and its standbys in order of preference. */
  readonly connector: Connector | readonly Connector[];
  readonly host: string;
  readonly clock: Clock;
  readonly log: Logger;
  /** host.update period, ms. */
  readonly updateMs: number;
  readonly registration: () => HostRegister;
  readonly update: () => HostUpdate;
  readonly onBudget: (watts: number) => void;
  readonly onConnection: (connected: boolean) => void;
  /** Every accepted command's op ('release': the host treats the leader as gone). */
  readonly onCommand?: (op: LeaderCommand['op']) => void;
  /** migrate / abort-migration / power-off; absent: refused ("not supported by this host"). */
  readonly commands?: LeaderCommandHandlers;
  /** Pause before trying the next endpoint after a "not the leader" refusal, ms (default 2000). */
  readonly refusedPauseMs?: number;
  /** Pause before a new session after the leader ended one, ms (default 10000), doubling up to endedPauseMaxMs (default 300000). */
  readonly endedPauseMs?: number;
  readonly endedPauseMaxMs?: number;
  /** host.register reply timeout, ms (default 5000). */
  readonly registerTimeoutMs?: number;
  /** First retry delay after a failed registration, ms (default 1000); doubles up to registerRetryMaxMs (default 30000). */
  readonly registerRetryMs?: number;
  readonly registerRetryMaxMs?: number;
  /** Channel timings (tests): heartbeat / dead-after, ms. */
  readonly heartbeatMs?: number;
  readonly deadAfterMs?: number;
}

export interface LeaderLinkCounters {
  registrations: number;
  registrationFailures: number;
  /** Registrations refused because the endpoint is not (or no longer) the leader. */
  notLeader: number;
  updates: number;
  budgets: number;
  commands: number;
  /** Budgets, commands and registration replies refused for an old fencing token. */
  staleTokens: number;
  /** Registration replies from a deposed leader (token older than the newest seen). */
  deposed: number;
  /** Sessions the leader ended (bye) that the link replaced with a new one. */
  sessionsEnded: number;
  /** Commands the host refused (unknown VM, already migrating, power-off not allowed, ...). */
  commandsRefused: number;
  migrationRequests: number;
  migrationStatuses: number;
}

/** Terminal statuses kept for a leader that is not there yet (bounded). */
const MAX_PENDING_STATUSES = 64;
const NOT_LEADER = /not the leader/i;

export class LeaderLink {
  readonly counters: LeaderLinkCounters = {
    registrations: 0, registrationFailures: 0, notLeader: 0, deposed: 0, sessionsEnded: 0, updates: 0, budgets: 0, commands: 0, staleTokens: 0, commandsRefused: 0,
    migrationRequests: 0, migrationStatuses: 0,
  };
  /** Newest fencing token seen; -1 before any. */
  newestToken = -1;
  registered = false;
  readonly endpoints: FailoverConnector;
  private ch: Channel;
  private timer: TimerHandle | undefined;
  private reopen: TimerHandle | undefined;
  private retry: TimerHandle | undefined;
  /** Failed registrations in a row on the current session (backoff exponent). */
  private failuresInRow = 0;
  /** The channel a host.register is in flight on (one at a time per channel). */
  private registeringOn: Channel | undefined;
  /** Sessions the leader ended in a row (each within endedPauseMaxMs of the last), and when. */
  private endedInRow = 0;
  private lastEndedAt = -Infinity;
  private stopped = false;
  private updating = false;
  private readonly pending: MigrationStatus[] = [];

  constructor(private readonly o: LeaderLinkOptions) {
    this.endpoints = failoverConnector(Array.isArray(o.connector) ? o.connector : [o.connector as Connector]);
    this.ch = this.open();
    this.schedule();
  }

  /** Where the link dials now (for status and logs). */
  get target(): string {
    return this.endpoints.target;
  }

  private open(): Channel {
    const ch = Channel.client(this.endpoints, {
      role: 'host', identity: this.o.host, validator: createRegistry(leaderFamily), clock: this.o.clock, logger: this.o.log,
      ...(this.o.heartbeatMs ? { heartbeatMs: this.o.heartbeatMs } : {}), ...(this.o.deadAfterMs ? { deadAfterMs: this.o.deadAfterMs } : {}),
      whenReplayFull: 'evict',
    });
    ch.events.on('connected', () => void this.register(ch));
    ch.events.on('disconnected', () => this.lost(ch));
    ch.events.on('closed', ({ error }) => this.ended(ch, error));
    ch.handle('leader.command', (body) => this.command(body as LeaderCommand));
    void this.consume(ch);
    return ch;
  }

  private lost(ch: Channel): void {
    if (ch !== this.ch || !this.registered) return;
    this.registered = false;
    this.o.onConnection(false);
  }

  /** The leader ended the session (bye; our own close has no error): a new session after a pause. */
  private ended(ch: Channel, error: VmanageError | undefined): void {
    if (ch !== this.ch || this.stopped || error === undefined) return;
    this.counters.sessionsEnded++;
    this.lost(ch);
    this.retry?.cancel();
    const now = this.o.clock.now();
    const max = this.o.endedPauseMaxMs ?? 300_000;
    this.endedInRow = now - this.lastEndedAt > max ? 0 : this.endedInRow + 1;
    this.lastEndedAt = now;
    const pause = Math.min(max, (this.o.endedPauseMs ?? 10_000) * 2 ** Math.min(this.endedInRow, 20));
    this.o.log.warn({ err: error.message, endpoint: this.endpoints.target, pauseMs: pause }, 'the leader ended the session: opening a new one after a pause');
    this.reopen = this.o.clock.setTimer(pause, () => {
      if (this.stopped || ch !== this.ch) return;
      this.ch = this.open();
    });
  }

  /** False (and counted) when `token` is older than the newest seen; otherwise it becomes the newest. */
  private fence(token: number): boolean {
    if (token < this.newestToken) {
      this.counters.staleTokens++;
      return false;
    }
    this.newestToken = token;
    return true;
  }

  private async register(ch: Channel): Promise<void> {
    if (this.registeringOn === ch) return;
    this.registeringOn = ch;
    this.retry?.cancel();
    try {
      const reply = await ch.request('host.register', this.o.registration(), { timeoutMs: this.o.registerTimeoutMs ?? 5000 }) as HostRegisterReply;
      if (ch !== this.ch) return;
      this.failuresInRow = 0;
      if (!reply.accepted) {
        this.counters.registrationFailures++;
        this.o.log.warn({ reason: reply.reason, endpoint: this.endpoints.target }, 'the leader refused the registration');
        if (NOT_LEADER.test(reply.reason ?? '')) this.nextEndpoint(ch);
        return;
      }
      if (!this.fence(reply.token)) {
        this.counters.deposed++;
        this.o.log.warn({ token: reply.token, newest: this.newestToken, endpoint: this.endpoints.target }, 'registration answered by a deposed leader (old fencing token): trying the next endpoint');
        this.nextEndpoint(ch, false);
        return;
      }
      this.counters.registrations++;
      this.registered = true;
      this.o.onConnection(true);
      this.o.log.info({ event: 'leader.registered', token: reply.token, endpoint: this.endpoints.target }, 'registered with the leader');
      this.flushPending();
    } catch (err) {
      this.counters.registrationFailures++;
      this.o.log.warn({ err: String(err) }, 'registration with the leader failed: retrying');
      this.retryRegistration(ch);
    } finally {
      if (this.registeringOn === ch) this.registeringOn = undefined;
    }
  }

  /** Registers again on the same session after a backoff (a new connection registers by itself). */
  private retryRegistration(ch: Channel): void {
    if (this.stopped || ch !== this.ch) return;
    const base = this.o.registerRetryMs ?? 1000;
    const delay = Math.min(this.o.registerRetryMaxMs ?? 30_000, base * 2 ** Math.min(this.failuresInRow, 16));
    this.failuresInRow++;
    this.retry = this.o.clock.setTimer(delay, () => {
      if (!this.stopped && ch === this.ch && ch.state === 'connected' && !this.registered) void this.register(ch);
    });
  }

  /** This endpoint is not the leader: drop its session, pause, then dial the next one. */
  private nextEndpoint(ch: Channel, notLeader = true): void {
    if (notLeader) this.counters.notLeader++;
    this.failuresInRow = 0;
    void ch.close();
    if (this.stopped) return;
    this.reopen = this.o.clock.setTimer(this.o.refusedPauseMs ?? 2000, () => {
      if (this.stopped) return;
      this.endpoints.advance();
      this.ch = this.open();
    });
  }

  private async consume(ch: Channel): Promise<void> {
    for await (const m of ch) {
      if (m.kind !== 'leader.budget') continue;
      const b = m.body as LeaderBudget;
      if (!this.fence(b.token)) {
        this.o.log.warn({ token: b.token, newest: this.newestToken, watts: b.watts }, 'budget with an old fencing token refused');
        continue;
      }
      this.counters.budgets++;
      this.o.onBudget(b.watts);
    }
  }

  private async command(c: LeaderCommand): Promise<CommandReply> {
    if (!this.fence(c.token)) return { done: false, reason: `fencing token ${c.token} is older than ${this.newestToken}` };
    this.counters.commands++;
    // A domain XML is not logged (it may carry a console password): its size is.
    this.o.log.info({ event: 'leader.command', ...c, ...(c.op === 'create-vm' ? { xml: `${c.xml.length} characters` } : {}) }, `leader command ${c.op}`);
    let reply: CommandReply = { done: true };
    if (c.op === 'update-now') void this.sendUpdate();
    else if (c.op === 'migrate' || c.op === 'abort-migration' || c.op === 'power-off' || c.op === 'create-vm') reply = await this.act(c);
    if (reply.done) this.o.onCommand?.(c.op);
    else this.counters.commandsRefused++;
    return reply;
  }

  private async act(c: MigrateCommand | AbortMigrationCommand | CreateVmCommand | Extract<LeaderCommand, { op: 'power-off' }>): Promise<CommandReply> {
    const h = this.o.commands;
    if (!h || (c.op === 'create-vm' && !h.createVm)) return { done: false, reason: `${c.op} is not supported by this host` };
    try {
      if (c.op === 'create-vm') return await (h.createVm as NonNullable<typeof h.createVm>)(c);
      if (c.op === 'migrate') return await h.migrate(c);
      if (c.op === 'abort-migration') return await h.abortMigration(c);
      return await h.powerOff();
    } catch (err) {
      return { done: false, reason: `${c.op} failed: ${err instanceof Error ? err.message : String(err)}`.slice(0, 1024) };
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.o.clock.setTimer(this.o.updateMs, () => {
      void this.sendUpdate().finally(() => this.schedule());
    });
  }

  private async sendUpdate(): Promise<void> {
    if (!this.registered || this.updating) return;
    this.updating = true;
    try {
      await this.ch.send('host.update', this.o.update());
      this.counters.updates++;
    } catch (err) {
      this.o.log.warn({ err: String(err) }, 'host.update not sent');
    } finally {
      this.updating = false;
    }
  }

  /** Reports a leader-ordered migration's progress or end. A progress report without a leader is
   *  dropped; an end is kept (bounded) and sent after the next registration. */
  async migrationStatus(s: MigrationStatus): Promise<void> {
    const terminal = s.state !== 'running';
    if (!this.registered) {
      if (terminal) this.keep(s);
      return;
    }
    try {
      await this.ch.send('host.migration-status', s);
      this.counters.migrationStatuses++;
    } catch (err) {
      this.o.log.warn({ err: String(err), migrationId: s.migrationId }, 'host.migration-status not sent');
      if (terminal) this.keep(s);
    }
  }

  private keep(s: MigrationStatus): void {
    this.pending.push(s);
    if (this.pending.length > MAX_PENDING_STATUSES) this.pending.shift();
  }

  private flushPending(): void {
    for (const s of this.pending.splice(0)) void this.migrationStatus(s);
  }

  /** Asks the leader to move `vm` away; throws when not registered or refused. */
  async requestMigration(vm: string, shedWatts: number, reason: string): Promise<void> {
    if (!this.registered) throw new VmanageError(ErrorCodes.Unavailable, 'no leader connection: migration request not sent', { vm });
    this.counters.migrationRequests++;
    const reply = await this.ch.request('host.migration-request', { vm, shedWatts, reason: reason.slice(0, 1024) }, { timeoutMs: 5000 }) as { accepted: boolean; reason?: string };
    if (!reply.accepted) throw new VmanageError(ErrorCodes.Unavailable, `the leader refused to move ${vm}: ${reply.reason ?? 'no reason given'}`, { vm });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.reopen?.cancel();
    this.retry?.cancel();
    await this.ch.close();
  }
}
