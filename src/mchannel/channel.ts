// The Channel: what applications use. One session (session.ts) over successive connections
// (link.ts): send / request / handle / async iteration, events, export and resume. Its parts:
// outbox.ts (outgoing messages), requests.ts (our requests), responder.ts (the peer's requests),
// acks.ts (when to acknowledge). A client channel (Channel.client) reconnects by itself with
// backoff; an attached channel (Channel.attached, or one handed out by ChannelServer) waits for
// connections to be attached to it.
import { ErrorCodes, VmanageError } from '../domain/errors.js';
import { AckScheduler } from './acks.js';
import { newChannelCounters, type ChannelCounters } from './counters.js';
import { TypedEvents } from './events.js';
import type { ChannelEvents, ChannelState, RequestHandler } from './channel-events.js';
import { encodePayload } from './encode.js';
import { Inbox, type Incoming } from './inbox.js';
import { Link, type LinkOwner } from './link.js';
import { resolveOptions, type ChannelOptions, type ResolvedOptions } from './options.js';
import { Outbox } from './outbox.js';
import { Reconnector } from './reconnect.js';
import { RequestTable, toCode } from './requests.js';
import { Responder } from './responder.js';
import { SessionCore } from './session.js';
import { parseSessionState, type SessionState } from './state.js';
import type { Connection, Connector, PeerIdentity } from './types.js';
import { controlLine, type Frame, type HelloFrame, type MsgFrame } from './wire.js';

export type { ChannelEvents, ChannelState, RequestContext, RequestHandler } from './channel-events.js';

const RESOLVED = Promise.resolve();
export class Channel implements AsyncIterable<Incoming> {
  readonly counters: ChannelCounters = newChannelCounters();
  readonly events: TypedEvents<ChannelEvents>;
  state: ChannelState;
  peer: PeerIdentity | undefined;
  /** Role and identity the peer claimed in its last hello (the transport's peer identity wins). */
  peerRole: string | undefined;
  peerClaimedId: string | undefined;
  private readonly o: ResolvedOptions;
  private readonly core: SessionCore;
  private readonly inbox: Inbox;
  private readonly reconnector: Reconnector | undefined;
  private readonly acceptNewSession: boolean;
  private link: Link | undefined;
  private everConnected = false;
  /** Outgoing messages, our requests' replies, the peer's requests, and when we acknowledge. */
  private readonly outbox: Outbox;
  private readonly requests: RequestTable;
  private readonly responder: Responder;
  private readonly acks: AckScheduler;
  private readonly linkOwner: LinkOwner;
  /** Connections in a row that ended before their handshake completed, and whether the peer
   *  ever answered in this session (a handshake here, or the resumed state's). */
  private unanswered = 0;
  private heardBefore: boolean;

  protected constructor(opts: ChannelOptions, connector: Connector | undefined) {
    this.o = resolveOptions(opts);
    this.heardBefore = opts.state !== undefined;
    const state = opts.state === undefined ? undefined : parseSessionState(opts.state);
    this.core = new SessionCore(this.o.replay, this.counters, this.o.newId, opts.sessionId ?? this.o.newId(), state);
    this.acceptNewSession = opts.acceptNewSession ?? connector === undefined;
    this.outbox = new Outbox(this.core, this.counters, this.o, (seq, payload) => {
      const link = this.link;
      if (link?.handshaken) this.writeMsg(link, seq, payload);
    });
    this.requests = new RequestTable(this.o.clock, this.counters);
    this.responder = new Responder(this.o, {
      closed: () => this.state === 'closed', enqueue: (payload) => this.enqueue(payload), peer: () => this.peer,
      violation: (msg) => this.link?.close(new VmanageError(ErrorCodes.ProtocolViolation, msg), { code: ErrorCodes.ProtocolViolation, message: msg }),
      invalid: (f, code, message) => this.invalid(f, code, message), settled: () => this.maybeResume(),
    });
    this.acks = new AckScheduler(this.o.clock, this.o, () => {
      if (this.link?.helloSent) this.link.write(`{"t":"ack","a":${this.core.received}}\n`);
    });
    this.reconnector = connector
      ? new Reconnector(connector, { ...this.o, counters: this.counters }, (conn) => this.attach(conn, { initiate: true }))
      : undefined;
    this.state = connector ? 'connecting' : 'disconnected';
    this.events = new TypedEvents((event, err) => this.o.logger?.warn({ event, err }, 'M-channel event listener failed'));
    this.inbox = new Inbox(() => this.maybeResume());
    this.linkOwner = {
      onFrame: (link, f) => this.onFrame(link, f),
      onBadFrame: (_link, detail) => this.events.emit('badFrame', { detail }),
      onClosed: (link, err) => this.onLinkClosed(link, err),
      // A heartbeat carries the cumulative ack: a pending delayed ack is then redundant.
      currentAck: () => {
        this.acks.carried();
        return this.core.received;
      },
    };
  }

  /** A channel that connects through connector and reconnects with backoff until closed. */
  static client(connector: Connector, opts: ChannelOptions): Channel {
    const ch = new Channel(opts, connector);
    ch.reconnector?.connectNow();
    return ch;
  }

  /** A channel that waits for connections to be attached (server side, or a host daemon that
   *  connects to a VM's channel socket itself and resumes an imported session). */
  static attached(opts: ChannelOptions): Channel {
    return new Channel(opts, undefined);
  }

  get sessionId(): string {
    return this.core.sid;
  }

  /** Resolves on the next completed handshake (at once if connected); rejects if closed first. */
  whenConnected(): Promise<void> {
    if (this.state === 'connected') return RESOLVED;
    if (this.state === 'closed') return Promise.reject(this.closedError());
    return new Promise((resolve, reject) => {
      const offs = [
        this.events.once('connected', () => { offs.forEach((f) => f()); resolve(); }),
        this.events.once('closed', ({ error }) => { offs.forEach((f) => f()); reject(error ?? this.closedError()); }),
      ];
    });
  }

  /**
   * Attaches a connection. initiate: send our hello at once (true for the side that connected;
   * the accepting side answers the peer's hello). firstHello: a hello already read from it.
   */
  attach(conn: Connection, opts: { initiate: boolean } = { initiate: true }): void {
    this.adoptLink(new Link(conn, this.linkOptions(), this.linkOwner), opts.initiate);
  }

  /** Used by ChannelServer: takes over a link whose first frame (a hello) was already read. */
  adoptLink(link: Link, initiate: boolean, firstHello?: HelloFrame): void {
    if (this.state === 'closed') {
      link.close(this.closedError(), { code: ErrorCodes.ChannelClosed, message: 'session closed' });
      return;
    }
    const old = this.link;
    this.link = link;
    old?.close(new VmanageError(ErrorCodes.ChannelClosed, 'replaced by a newer connection'));
    link.setOwner(this.linkOwner, this.counters);
    this.counters.connects++;
    if (initiate) this.sendHello(link, false);
    if (firstHello) this.onHello(link, firstHello);
  }

  send(kind: string, body: unknown): Promise<void> {
    try {
      return this.enqueue(this.payload(kind, body, '', false));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Sends a request and resolves with the validated reply, or rejects with REQUEST_TIMEOUT, the
   *  peer's error (its code), or CHANNEL_CLOSED. Requests and replies survive reconnects. */
  request(kind: string, body: unknown, opts: { timeoutMs?: number } = {}): Promise<unknown> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const id = this.core.nextRequestId++;
    let payload: string;
    try {
      payload = this.payload(kind, body, `,"q":${id}`, false);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.requests.start(id, kind, timeoutMs, () => this.enqueue(payload));
  }

  /** Registers the handler for requests of kind (one per kind; a later one replaces it). */
  handle(kind: string, handler: RequestHandler): void {
    this.responder.handle(kind, handler);
  }

  [Symbol.asyncIterator](): AsyncIterator<Incoming> {
    return this.inbox[Symbol.asyncIterator]();
  }

  /** The session as plain JSON (see state.ts). The channel keeps running. */
  exportState(): SessionState {
    return this.core.export(this.o.role);
  }

  /** Hands the session off (migration): stops without telling the peer the session ended and
   *  returns the state to resume elsewhere. Open requests reject with CHANNEL_CLOSED. */
  detach(): SessionState {
    const state = this.exportState();
    this.shutdown(new VmanageError(ErrorCodes.ChannelClosed, 'session handed off'), false);
    return state;
  }

  /** Ends the session: waits up to closeFlushMs for what was sent to be acknowledged, tells the
   *  peer (bye CHANNEL_CLOSED), and rejects whatever is still waiting. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    if (this.state === 'connected' && this.core.replay.count > 0) await this.outbox.flushed(this.o.closeFlushMs);
    this.shutdown(undefined, true);
  }

  private shutdown(error: VmanageError | undefined, bye: boolean): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.reconnector?.stop();
    this.acks.stop();
    const link = this.link;
    this.link = undefined;
    const why = error ?? new VmanageError(ErrorCodes.ChannelClosed, 'channel closed');
    link?.close(why, bye ? { code: ErrorCodes.ChannelClosed, message: 'session closed' } : undefined);
    this.outbox.end(why);
    this.requests.failAll(why);
    this.inbox.end();
    this.events.emit('closed', { error });
  }

  private closedError(): VmanageError {
    return new VmanageError(ErrorCodes.ChannelClosed, 'channel closed', { sessionId: this.core.sid });
  }

  // ---- sending ----

  /** Validates and encodes the fields after the ack (encode.ts). */
  private payload(kind: string, body: unknown, extra: string, reply: boolean): string {
    if (this.state === 'closed') throw this.closedError();
    return encodePayload(this.o.validator, kind, body, extra, reply);
  }

  /** Into the session's replay buffer (outbox.ts); CHANNEL_CLOSED once closed. */
  private enqueue(payload: string): Promise<void> {
    if (this.state === 'closed') return Promise.reject(this.closedError());
    return this.outbox.enqueue(payload);
  }

  private writeMsg(link: Link, seq: number, payload: string): void {
    this.acks.piggybacked();
    link.write(`{"t":"msg","s":${seq},"a":${this.core.received},${payload}}\n`);
  }

  /** re=false: a hello expecting an answer, with a fresh nonce. re=true: the answer to the
   *  peer's hello, echoing its nonce (echo). */
  private sendHello(link: Link, re: boolean, ack?: number, echo?: string): void {
    link.helloSent = true;
    this.acks.piggybacked();
    let nonce = echo;
    if (!re) {
      nonce = this.o.newId().slice(0, 32);
      link.helloNonce = nonce;
    }
    link.write(controlLine(this.core.hello(this.o.role, this.o.identity, re, ack, nonce)));
  }

  // ---- receiving ----

  private onFrame(link: Link, f: Frame): void {
    if (link !== this.link) return;
    switch (f.t) {
      case 'msg':
        this.onAck(f.a);
        this.onMsg(link, f);
        break;
      case 'ack':
      case 'hb':
        this.onAck(f.a);
        break;
      case 'hello':
        if (link.acceptHello()) this.onHello(link, f);
        break;
      case 'bye':
        if (f.code === ErrorCodes.ChannelClosed) this.shutdown(new VmanageError(ErrorCodes.ChannelClosed, `peer ended the session: ${f.message}`), false);
        else link.close(new VmanageError(toCode(f.code), `peer dropped the connection: ${f.message}`, { peerCode: f.code }));
        break;
    }
  }

  private onAck(a: number): void {
    if (a <= this.core.peerAck) return;
    if (!this.core.ack(a)) {
      this.counters.badEnvelope++;
      this.events.emit('badFrame', { detail: `ack ${a} for a message never sent (next seq ${this.core.nextSeq})` });
      return;
    }
    this.outbox.drain();
  }

  private onMsg(link: Link, f: MsgFrame): void {
    const verdict = this.core.accept(f.s);
    if (verdict === 'duplicate') {
      this.counters.duplicates++;
      this.acks.received();
      return;
    }
    if (verdict === 'ahead') {
      this.counters.outOfOrder++;
      return;
    }
    const stale = !link.handshaken;
    if (stale) this.counters.stale++;
    this.counters.delivered++;
    this.acks.received();
    if (f.p !== undefined) this.onReply(f);
    else if (f.q !== undefined) void this.responder.answer(f, stale);
    else this.onNotification(f, stale);
    if (this.inbox.size + this.responder.inflight >= this.o.inboxMax || this.responder.inflight >= this.o.maxConcurrentRequests) link.pause();
  }

  private onNotification(f: MsgFrame, stale: boolean): void {
    const c = this.o.validator.checkBody(f.k, f.b);
    if (!c.ok) {
      this.invalid(f, c.code, c.message);
      return;
    }
    this.inbox.push({ kind: f.k, body: c.value, seq: f.s, stale });
  }

  private onReply(f: MsgFrame): void {
    this.requests.settle(f, (kind, body) => this.o.validator.checkReply(kind, body), (code, message) => this.invalid(f, code, message));
  }

  private invalid(f: MsgFrame, code: 'UNSUPPORTED' | 'INVALID_INPUT', message: string): void {
    if (code === 'UNSUPPORTED') this.counters.unknownKind++;
    else this.counters.invalidBody++;
    const error = new VmanageError(code === 'UNSUPPORTED' ? ErrorCodes.Unsupported : ErrorCodes.InvalidInput, `${f.k} (seq ${f.s}): ${message}`, { kind: f.k, seq: f.s });
    this.events.emit('invalid', { kind: f.k, seq: f.s, error });
  }

  private maybeResume(): void {
    if (this.inbox.size + this.responder.inflight <= this.o.inboxMax / 2 && this.responder.inflight < this.o.maxConcurrentRequests) this.link?.resume();
  }

  // ---- handshake and connection life ----

  private onHello(link: Link, h: HelloFrame): void {
    const fail = (msg: string): void => {
      this.counters.handshakeFailures++;
      link.close(new VmanageError(ErrorCodes.HandshakeFailed, msg), { code: ErrorCodes.HandshakeFailed, message: msg });
    };
    if (h.v !== 1) return fail(`protocol version ${h.v} not supported (this side speaks 1)`);
    if (h.re && h.echo !== undefined && h.echo !== link.helloNonce) {
      // An answer to another connection's hello (held by QEMU since the previous host): stale.
      this.counters.stale++;
      return;
    }
    if (h.sid !== this.core.sid) {
      if (!this.acceptNewSession) {
        if (h.re || link.foreignHelloAnswered) return fail(`peer speaks for session ${h.sid}, expected ${this.core.sid}`);
        link.foreignHelloAnswered = true;
        // A peer that does not know our session yet (a host attaching to a guest's channel
        // without state): tell it ours, it adopts it and answers.
        this.sendHello(link, false);
        return;
      }
      const lostOutgoing = this.core.adoptNewSession(h.sid);
      this.requests.failAll(new VmanageError(ErrorCodes.ChannelClosed, 'the peer started a new session'));
      if (this.everConnected || lostOutgoing > 0) this.events.emit('reset', { reason: 'peer started a new session', lostOutgoing });
    }
    const out = this.core.onHello(h);
    if (out.reset) this.events.emit('reset', out.reset);
    for (const g of out.gaps) {
      this.o.logger?.warn({ sessionId: this.core.sid, ...g, error: undefined }, g.error.message);
      this.events.emit('gap', g);
    }
    const resumed = this.everConnected;
    link.handshaken = true;
    this.unanswered = 0;
    this.heardBefore = true;
    this.counters.handshakes++;
    this.peer = link.conn.peer;
    this.peerRole = h.role;
    this.peerClaimedId = h.id;
    if (!h.re) this.sendHello(link, true, out.answerAck, h.n);
    for (const e of out.resend) {
      this.counters.resent++;
      this.writeMsg(link, e.seq, e.payload);
    }
    this.everConnected = true;
    this.state = 'connected';
    this.reconnector?.succeeded();
    this.outbox.drain();
    this.events.emit('connected', { peer: link.conn.peer, role: h.role, claimedId: h.id, resumed });
    if (resumed) this.events.emit('resumed', { peer: link.conn.peer, role: h.role, claimedId: h.id, resumed: true });
  }

  private onLinkClosed(link: Link, error: VmanageError | undefined): void {
    if (link !== this.link) return;
    this.link = undefined;
    if (!link.handshaken) this.unanswered++;
    if (this.state === 'closed') return;
    this.state = 'disconnected';
    this.o.logger?.info({ sessionId: this.core.sid, code: error?.code, reason: error?.message }, 'M-channel disconnected');
    this.outbox.release();
    this.events.emit('disconnected', { error });
    this.reconnector?.later();
  }

  private linkOptions(): ConstructorParameters<typeof Link>[1] {
    return {
      clock: this.o.clock, counters: this.counters, maxFrameBytes: this.o.maxFrameBytes, maxDepth: this.o.maxDepth,
      errorBudget: this.o.errorBudget, heartbeatMs: this.o.heartbeatMs, deadAfterMs: this.o.deadAfterMs,
      handshakeDeadMs: this.heardBefore ? Math.min(this.o.handshakeTimeoutMaxMs, this.o.deadAfterMs * 2 ** Math.min(this.unanswered, 20)) : this.o.deadAfterMs,
      maxWriteBufferBytes: this.o.maxWriteBufferBytes,
    };
  }
}
