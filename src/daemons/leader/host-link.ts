// The leader's side of each host daemon's session: registration (identity check, validation,
// store), updates (live state, liveness), migration requests and statuses (to the planner and the
// tracker), and what the leader sends: budgets and commands with the term's fencing token.
// Identity: over TLS (and the memory transport of tests) the host id claimed in host.register
// must be the transport's peer identity (the certificate CN); a unix socket cannot tell hosts
// apart (its permissions decide who connects), so the claim is taken there.
import { BAD_INPUT_COUNTERS, type Channel, type PeerIdentity } from '../../mchannel/index.js';
import { hostAttributesOf } from '../../domain/leader/registration.js';
import type { HostRegister, HostRegisterReply, HostUpdate, LeaderCommand, MigrationRequest, MigrationStatus } from '../../protocol/leader.js';
import type { LiveHost } from './hosts.js';
import type { LeaderCore } from './leader.js';
import { storedRegistrationOf, storedRegistrationProblems } from './registration.js';
import { bump, serveSession, type Problem, type SessionOptions } from './sessions.js';

/** Transports whose peer identity names the host (checked against its claim). */
const VERIFIED_TRANSPORTS = new Set(['tls', 'memory']);
/** Invalid bodies in a row before a host's session is closed (like the channel's frame budget). */
const BAD_BODIES_IN_A_ROW = 16;

export class HostLink {
  /** Channel -> host id it registered as. */
  private readonly hostOf = new WeakMap<Channel, string>();
  /** The same for every session (one logger and one handler set, not one per host). */
  private readonly session: SessionOptions;

  constructor(private readonly l: LeaderCore) {
    this.session = {
      handlers: {
        register: (c, b, peer) => this.register(c, b, peer),
        update: (c, b) => this.update(c, b),
        migrationRequest: (c, b) => this.migrationRequest(c, b),
        migrationStatus: (c, b) => this.migrationStatus(c, b),
        disconnected: (c) => this.disconnected(c),
        closed: (c) => this.closed(c),
      },
      counters: l.counters, log: l.log.child({ part: 'hosts' }), errorBudget: BAD_BODIES_IN_A_ROW,
      hostOf: (c) => this.hostOf.get(c),
    };
  }

  serve(ch: Channel): void {
    serveSession(ch, this.session);
  }

  private refuse(ch: Channel, reason: string, kind: string, reply: HostRegisterReply): HostRegisterReply {
    bump(this.l.counters.refusals, kind);
    this.l.log.warn({ event: 'leader.registration-refused', kind, peer: ch.peer?.id, reason }, `registration refused: ${reason}`);
    // The host retries on its next connection: drop this one once the reply is out.
    this.l.clock.setTimer(50, () => void ch.close());
    return reply;
  }

  private register(ch: Channel, body: HostRegister, peer: PeerIdentity | undefined): HostRegisterReply {
    const l = this.l;
    const token = l.token;
    if (token === undefined) {
      const who = l.leaderId !== undefined && l.leaderId !== l.id ? `the leader is ${l.leaderId}` : 'no leader is known yet';
      return this.refuse(ch, `not the leader; ${who}`, 'not-leader', { accepted: false, token: l.term.token ?? 0, reason: `not the leader; ${who}` });
    }
    if (peer && VERIFIED_TRANSPORTS.has(peer.transport) && peer.id !== body.host) {
      bump(l.counters.badInput, 'identity-mismatch');
      return this.refuse(ch, `host claims to be "${body.host}" but its ${peer.transport} identity is "${peer.id}"`, 'identity', { accepted: false, token, reason: `identity mismatch: the connection is "${peer.id}", the registration says "${body.host}"` });
    }
    const reg = storedRegistrationOf(body, l.cfg.hosts[body.host]?.maxTrust);
    const problems = storedRegistrationProblems(reg);
    let attrs;
    try {
      if (problems.length > 0) throw new Error(problems.join('; '));
      attrs = hostAttributesOf(reg);
    } catch (err) {
      bump(l.counters.badInput, 'bad-registration');
      return this.refuse(ch, `registration of ${body.host}: ${(err as Error).message}`, 'invalid', { accepted: false, token, reason: `invalid registration: ${(err as Error).message}`.slice(0, 1024) });
    }
    const known = l.table.get(reg.id);
    if (known?.channel && known.channel !== ch && known.channel.state === 'connected') {
      l.counters.duplicateIdentities++;
      l.log.warn({ event: 'leader.duplicate-identity', host: reg.id }, `host ${reg.id} registered on a second session: the newer one wins`);
      void known.channel.close();
    }
    const now = l.clock.now();
    const host = l.table.register(reg, attrs, now, l.store);
    host.channel = ch;
    this.hostOf.set(ch, host.id);
    l.counters.registrations++;
    l.log.info({ event: 'leader.host-registered', host: host.id, cpus: reg.cpus, memoryMiB: reg.memoryMiB, capWatts: reg.capWatts, trust: attrs.trust, budgetWatts: host.budgetWatts, migrationUri: reg.migrationUri }, `host ${host.id} registered`);
    l.events.emit('host', l.table.view(host));
    // A budget kept from before goes out at once (it is within the cluster budget); a new host
    // waits for the split, which takes its share from the others first.
    if (known) l.clock.setTimer(0, () => this.sendBudget(host));
    l.requestSplit('host-registered', `host ${host.id} registered`);
    return { accepted: true, token };
  }

  private registered(ch: Channel): LiveHost | undefined {
    const id = this.hostOf.get(ch);
    const h = id !== undefined ? this.l.table.get(id) : undefined;
    return h?.channel === ch ? h : undefined;
  }

  private update(ch: Channel, body: HostUpdate): Problem | undefined {
    const h = this.registered(ch);
    if (!h) return { kind: 'unregistered', detail: 'host.update before a successful host.register' };
    const wasLost = h.liveness === 'lost';
    const dups = this.l.table.update(h, body, this.l.clock.now());
    this.l.counters.updates++;
    this.l.ops.creations.seen(h); // nothing unless a creation's outcome is pending
    if (wasLost) {
      this.l.log.info({ event: 'leader.host-back', host: h.id }, `host ${h.id} is back`);
      this.l.events.emit('host', this.l.table.view(h));
    }
    return dups > 0 ? { kind: 'duplicate-vm', detail: `${dups} VM(s) listed twice in one update` } : undefined;
  }

  private async migrationRequest(ch: Channel, body: MigrationRequest): Promise<{ accepted: boolean; reason?: string }> {
    const h = this.registered(ch);
    if (!h) {
      bump(this.l.counters.badInput, 'unregistered');
      return { accepted: false, reason: 'not registered' };
    }
    if (this.l.token === undefined) return { accepted: false, reason: `not the leader; the leader is ${this.l.leaderId ?? 'unknown'}` };
    return await this.l.planner.request({ host: h.id, vm: body.vm, shedWatts: body.shedWatts }, body.reason);
  }

  private migrationStatus(ch: Channel, body: MigrationStatus): Problem | undefined {
    const h = this.registered(ch);
    if (!h) return { kind: 'unregistered', detail: 'host.migration-status before a successful host.register' };
    return this.l.tracker.status(h.id, body);
  }

  private disconnected(ch: Channel): void {
    const h = this.registered(ch);
    if (h?.state === 'powering-off') this.l.planner.poweredOff(h);
  }

  private closed(ch: Channel): void {
    const ended = this.l.counters.endedSessionsBadInput;
    for (const k of BAD_INPUT_COUNTERS) if (ch.counters[k] > 0) ended.set(k, (ended.get(k) ?? 0) + ch.counters[k]);
    const h = this.registered(ch);
    if (!h) return;
    if (h.state === 'powering-off') this.l.planner.poweredOff(h);
    delete h.channel;
  }

  /** Sends the host its budget in force (nothing in dry-run, while not leading, or when offline). */
  sendBudget(h: LiveHost): void {
    const token = this.l.token;
    if (token === undefined || this.l.cfg.dryRun || !h.channel || h.channel.state === 'closed' || !(h.budgetWatts > 0)) return;
    h.channel.send('leader.budget', { token, watts: h.budgetWatts }).catch((err: unknown) => {
      this.l.log.warn({ host: h.id, err: String(err) }, 'budget not sent');
    });
  }

  async command(h: LiveHost, cmd: LeaderCommand): Promise<{ done: boolean; reason?: string }> {
    if (!h.channel || h.channel.state === 'closed') return { done: false, reason: `host ${h.id} is not connected` };
    return await h.channel.request('leader.command', cmd, { timeoutMs: this.l.cfg.failure.commandTimeoutMs }) as { done: boolean; reason?: string };
  }
}
