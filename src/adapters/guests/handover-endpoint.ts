// Session handover between host daemons: an M-channel request `guest.session.handover`
// {vm, state} -> {accepted}. The source host daemon sends it when a VM migrated away; the
// destination validates the state (it crossed hosts) and gives it to its guest channel manager.
// The transport is a Connector / Listener pair: a unix socket in tests, TCP + mutual TLS between
// real hosts (the peer endpoint is configuration).
import { z } from 'zod';
import type { Clock } from '../../domain/clock.js';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import { Channel } from '../../mchannel/channel.js';
import { parseSessionState, sessionStateSchema, type SessionState } from '../../mchannel/state.js';
import type { Connector, Listener } from '../../mchannel/types.js';
import type { Checked, MessageValidator } from '../../mchannel/validator.js';
import type { HandoverSender } from './manager.js';

export const HANDOVER_KIND = 'guest.session.handover';

const uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'a VM UUID');
export const handoverRequestSchema = z.object({ vm: uuid, state: sessionStateSchema });
export const handoverReplySchema = z.object({ accepted: z.boolean() });

function check(schema: z.ZodType, kind: string, v: unknown): Checked {
  if (kind !== HANDOVER_KIND) return { ok: false, code: 'UNSUPPORTED', message: `unknown kind ${kind.slice(0, 64)}` };
  const r = schema.safeParse(v);
  return r.success ? { ok: true, value: r.data } : { ok: false, code: 'INVALID_INPUT', message: r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ').slice(0, 900) };
}

/** The handover protocol's validator (its own kinds only). */
export const handoverValidator: MessageValidator = {
  checkBody: (kind, body) => check(handoverRequestSchema, kind, body),
  checkReply: (kind, body) => check(handoverReplySchema, kind, body),
};

export interface HandoverPeer { readonly name: string; readonly connector: Connector }

/** Sends states to the named destination, or to every peer when the destination is unknown
 *  (a peer that does not run the VM keeps the state only for the handover store's TTL). */
export class HandoverClient implements HandoverSender {
  constructor(private readonly peers: readonly HandoverPeer[], private readonly clock: Clock, private readonly timeoutMs = 10_000) {}

  async send(vm: string, state: SessionState, destination?: string): Promise<void> {
    const targets = destination ? this.peers.filter((p) => p.name === destination) : this.peers;
    if (targets.length === 0) throw new VmanageError(ErrorCodes.NotFound, `no handover peer ${destination ?? '(none configured)'}`, { destination });
    // A deadline of our own (a referenced timer): the handover must end, in every process state.
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new AggregateError([new Error(`no answer within ${this.timeoutMs} ms`)])), this.timeoutMs + 500);
    });
    try {
      await Promise.race([Promise.any(targets.map((p) => this.sendTo(p, vm, state))), deadline]);
    } catch (err) {
      const errors = err instanceof AggregateError ? err.errors.map(String) : [String(err)];
      throw new VmanageError(ErrorCodes.Unavailable, `session handover for ${vm} failed: ${errors.join('; ')}`, { vm, errors });
    } finally {
      clearTimeout(timer);
    }
  }

  private async sendTo(peer: HandoverPeer, vm: string, state: SessionState): Promise<void> {
    const ch = Channel.client(peer.connector, { role: 'mvm', validator: handoverValidator, clock: this.clock, connectTimeoutMs: this.timeoutMs, closeFlushMs: 200 });
    try {
      const reply = await ch.request(HANDOVER_KIND, { vm, state }, { timeoutMs: this.timeoutMs }) as { accepted: boolean };
      if (!reply.accepted) throw new VmanageError(ErrorCodes.Unavailable, `${peer.name} refused the session of ${vm}`, { vm, peer: peer.name });
    } finally {
      await ch.close();
    }
  }
}

export interface HandoverServerOptions {
  readonly listener: Listener;
  readonly clock: Clock;
  readonly accept: (vm: string, state: SessionState, from: string) => void;
  /** Connections served at once; more are closed at once (default 64). */
  readonly maxConnections?: number;
}

/** Serves handover requests: one attached channel per connection. */
export class HandoverServer {
  readonly counters = { requests: 0, accepted: 0, refusedConnections: 0 };
  private readonly channels = new Set<Channel>();

  constructor(private readonly o: HandoverServerOptions) {
    o.listener.onConnection((conn) => {
      if (this.channels.size >= (o.maxConnections ?? 64)) {
        this.counters.refusedConnections++;
        conn.stream.destroy();
        return;
      }
      const ch = Channel.attached({ role: 'mvm', validator: handoverValidator, clock: o.clock });
      this.channels.add(ch);
      ch.events.on('disconnected', () => void ch.close());
      ch.events.on('closed', () => this.channels.delete(ch));
      ch.handle(HANDOVER_KIND, (body, ctx) => {
        this.counters.requests++;
        const b = body as { vm: string; state: unknown };
        o.accept(b.vm.toLowerCase(), parseSessionState(b.state), ctx.peer?.id ?? 'unknown');
        this.counters.accepted++;
        return { accepted: true };
      });
      ch.attach(conn, { initiate: false });
    });
  }

  async close(): Promise<void> {
    await this.o.listener.close();
    await Promise.all([...this.channels].map((c) => c.close()));
  }
}
