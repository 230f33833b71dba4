// The host daemon's M-channel to the Cluster Leader (client side; reconnects by itself). On every
// (re)connection it registers (capacity, power model, reliability, trust); it sends host.update
// every updateMs while connected, passes budgets and commands on, and asks for migrations.
// Fencing: every budget and command carries the leader term's token; one older than the newest
// seen (from a budget, a command or the registration reply) is refused and counted.
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../../domain/clock.js';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import { Channel, type Connector } from '../../mchannel/index.js';
import { leaderFamily, type HostRegister, type HostRegisterReply, type HostUpdate, type LeaderBudget, type LeaderCommand } from '../../protocol/leader.js';
import { createRegistry } from '../../protocol/registry.js';

export interface LeaderLinkOptions {
  readonly connector: Connector;
  readonly host: string;
  readonly clock: Clock;
  readonly log: Logger;
  /** host.update period, ms. */
  readonly updateMs: number;
  readonly registration: () => HostRegister;
  readonly update: () => HostUpdate;
  readonly onBudget: (watts: number) => void;
  readonly onConnection: (connected: boolean) => void;
  /** 'release': the host treats the leader as gone (last budget until the fail-safe timeout). */
  readonly onCommand?: (op: LeaderCommand['op']) => void;
  /** Channel timings (tests): heartbeat / dead-after, ms. */
  readonly heartbeatMs?: number;
  readonly deadAfterMs?: number;
}

export interface LeaderLinkCounters {
  registrations: number;
  registrationFailures: number;
  updates: number;
  budgets: number;
  commands: number;
  /** Budgets and commands refused for an old fencing token. */
  staleTokens: number;
  migrationRequests: number;
}

export class LeaderLink {
  readonly counters: LeaderLinkCounters = { registrations: 0, registrationFailures: 0, updates: 0, budgets: 0, commands: 0, staleTokens: 0, migrationRequests: 0 };
  /** Newest fencing token seen; -1 before any. */
  newestToken = -1;
  registered = false;
  private readonly ch: Channel;
  private timer: TimerHandle | undefined;
  private stopped = false;
  private updating = false;

  constructor(private readonly o: LeaderLinkOptions) {
    this.ch = Channel.client(o.connector, {
      role: 'host', identity: o.host, validator: createRegistry(leaderFamily), clock: o.clock, logger: o.log,
      ...(o.heartbeatMs ? { heartbeatMs: o.heartbeatMs } : {}), ...(o.deadAfterMs ? { deadAfterMs: o.deadAfterMs } : {}),
      whenReplayFull: 'evict',
    });
    this.ch.events.on('connected', () => void this.register());
    this.ch.events.on('disconnected', () => {
      this.registered = false;
      o.onConnection(false);
    });
    this.ch.handle('leader.command', (body) => this.command(body as LeaderCommand));
    void this.consume();
    this.schedule();
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

  private async register(): Promise<void> {
    try {
      const reply = await this.ch.request('host.register', this.o.registration(), { timeoutMs: 5000 }) as HostRegisterReply;
      if (!reply.accepted) {
        this.counters.registrationFailures++;
        this.o.log.warn({ reason: reply.reason }, 'the leader refused the registration');
        return;
      }
      this.fence(reply.token);
      this.counters.registrations++;
      this.registered = true;
      this.o.onConnection(true);
      this.o.log.info({ event: 'leader.registered', token: reply.token }, 'registered with the leader');
    } catch (err) {
      this.counters.registrationFailures++;
      this.o.log.warn({ err: String(err) }, 'registration with the leader failed');
    }
  }

  private async consume(): Promise<void> {
    for await (const m of this.ch) {
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

  private command(c: LeaderCommand): { done: boolean; reason?: string } {
    if (!this.fence(c.token)) return { done: false, reason: `fencing token ${c.token} is older than ${this.newestToken}` };
    this.counters.commands++;
    if (c.op === 'update-now') void this.sendUpdate();
    else this.o.onCommand?.(c.op);
    return { done: true };
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
    await this.ch.close();
  }
}
