// The accepting side: takes Connections from a Listener, reads each one's hello, and attaches it
// to the session with that id (a reconnecting client resumes), or opens a new session. Sessions
// whose peer went away linger for sessionLingerMs, then end; the number of sessions is capped.
//
// Hostile peers (guests on a shared host): with bindSessionsToPeer a known session is resumed
// only by the transport identity (PeerIdentity.id) it started with; with maxSessionsPerPeer a
// peer starting a new session first ends its older sessions that have no connection, and is
// refused beyond the cap, so one peer cannot use up maxSessions; admit() may refuse a peer's new
// sessions outright (e.g. a VM whose session is still being handed over). All off by default:
// the leader's server is unchanged. Every refusal is counted in `refusals`.
import type { TimerHandle } from '../domain/clock.js';
import { ErrorCodes, VmanageError } from '../domain/errors.js';
import { Channel } from './channel.js';
import { newChannelCounters, type ChannelCounters } from './counters.js';
import { TypedEvents } from './events.js';
import { Link } from './link.js';
import { resolveOptions, type ChannelOptions } from './options.js';
import type { SessionState } from './state.js';
import type { Connection, Listener, PeerIdentity } from './types.js';
import type { HelloFrame } from './wire.js';

export interface ChannelServerOptions extends Omit<ChannelOptions, 'state' | 'sessionId'> {
  /** A connection that sends no hello within this long is dropped (ms, default 5000). */
  helloTimeoutMs?: number;
  /** A session without a connection ends after this long (ms, default 60 000). */
  sessionLingerMs?: number;
  /** Most sessions at once; further new sessions are refused (default 1024). */
  maxSessions?: number;
  /** Most connections waiting for their hello at once; more are dropped at once (default 256). */
  maxPendingConnections?: number;
  /** Resume a known session only for the peer identity it started with (default false). */
  bindSessionsToPeer?: boolean;
  /** Most sessions one peer identity may hold (older unconnected ones are ended first; default unlimited). */
  maxSessionsPerPeer?: number;
  /** Whether a peer may start a new session now (default: always). */
  admit?: (peer: PeerIdentity) => boolean;
}

/** Connections refused or sessions ended by the hostile-peer rules above. */
export interface ServerRefusals {
  /** A hello for a known session from another peer identity than the session's. */
  peerMismatch: number;
  /** A new session refused: the peer already holds maxSessionsPerPeer connected sessions. */
  peerSessionLimit: number;
  /** Unconnected sessions ended because their peer started a new one. */
  peerSessionsEnded: number;
  /** A new session refused by admit(). */
  notAdmitted: number;
}

export interface ChannelServerEvents {
  /** A new session (not a resumed one). */
  channel: Channel;
  /** A connection was refused before reaching a session (no hello, too many sessions, ...). */
  refused: { peer: string; error: VmanageError };
}

interface Session {
  readonly channel: Channel;
  linger?: TimerHandle;
  /** The peer identity the session belongs to (undefined: a resumed session not yet bound). */
  peer?: string;
}

export class ChannelServer {
  readonly events = new TypedEvents<ChannelServerEvents>();
  /** Bad input on connections that never reached a session. */
  readonly counters: ChannelCounters = newChannelCounters();
  readonly refusals: ServerRefusals = { peerMismatch: 0, peerSessionLimit: 0, peerSessionsEnded: 0, notAdmitted: 0 };
  private readonly sessions = new Map<string, Session>();
  private readonly opts: ChannelServerOptions;
  private readonly listener: Listener;
  private closed = false;
  private pendingConnections = 0;

  constructor(listener: Listener, opts: ChannelServerOptions) {
    this.listener = listener;
    this.opts = opts;
    listener.onConnection((conn) => this.accept(conn));
  }

  get size(): number {
    return this.sessions.size;
  }

  get(sessionId: string): Channel | undefined {
    return this.sessions.get(sessionId)?.channel;
  }

  channels(): Channel[] {
    return [...this.sessions.values()].map((s) => s.channel);
  }

  /** Resumes an exported session (handed over from another host): its peer reconnects to us.
   *  `peer`: the identity it belongs to (with bindSessionsToPeer; else the first to connect). */
  resume(state: SessionState, peer?: string): Channel {
    const ch = Channel.attached({ ...this.opts, state, acceptNewSession: false });
    this.track(ch, peer);
    return ch;
  }

  /**
   * Stops listening. By default sessions are only dropped (no bye): their clients keep
   * reconnecting and resume with the next server (a daemon restart). endSessions: true ends them
   * (clients get CHANNEL_CLOSED).
   */
  async close(opts: { endSessions?: boolean } = {}): Promise<void> {
    this.closed = true;
    const channels = this.channels();
    if (opts.endSessions) await Promise.all(channels.map((c) => c.close()));
    else for (const c of channels) c.detach();
    await this.listener.close();
  }

  private accept(conn: Connection): void {
    if (this.closed) {
      conn.stream.destroy();
      return;
    }
    if (this.pendingConnections >= (this.opts.maxPendingConnections ?? 256)) {
      this.counters.handshakeFailures++;
      conn.stream.destroy();
      this.events.emit('refused', { peer: conn.peer.id, error: new VmanageError(ErrorCodes.Unavailable, 'too many connections waiting for their hello') });
      return;
    }
    this.pendingConnections++;
    let counted = true;
    const settle = (): void => {
      if (counted) this.pendingConnections--;
      counted = false;
    };
    const o = resolveOptions(this.opts);
    const clock = o.clock;
    const hello: { timer?: TimerHandle } = {};
    const link = new Link(conn, {
      clock, counters: this.counters, maxFrameBytes: o.maxFrameBytes, maxDepth: o.maxDepth, errorBudget: o.errorBudget,
      heartbeatMs: o.heartbeatMs, deadAfterMs: o.deadAfterMs, maxWriteBufferBytes: o.maxWriteBufferBytes,
    }, {
      onFrame: (l, f) => {
        if (f.t !== 'hello') {
          this.counters.outOfOrder++;
          return; // data before the hello on an unmatched connection: the peer resends after it
        }
        hello.timer?.cancel();
        settle();
        this.route(l, f);
      },
      onBadFrame: () => {},
      onClosed: () => {
        hello.timer?.cancel();
        settle();
      },
      currentAck: () => 0,
    });
    hello.timer = clock.setTimer(this.opts.helloTimeoutMs ?? 5000, () => {
      this.refuse(link, new VmanageError(ErrorCodes.HandshakeFailed, 'no hello received in time'));
    });
  }

  private route(link: Link, hello: HelloFrame): void {
    const peer = link.conn.peer.id;
    const known = this.sessions.get(hello.sid);
    if (known) {
      if (this.opts.bindSessionsToPeer && known.peer !== undefined && known.peer !== peer) {
        this.refusals.peerMismatch++;
        this.refuse(link, new VmanageError(ErrorCodes.PermissionDenied, `session ${hello.sid} belongs to another peer`, { peer }));
        return;
      }
      known.peer ??= peer;
      known.linger?.cancel();
      known.linger = undefined;
      known.channel.adoptLink(link, false, hello);
      return;
    }
    if (this.opts.admit && !this.opts.admit(link.conn.peer)) {
      this.refusals.notAdmitted++;
      this.refuse(link, new VmanageError(ErrorCodes.Unavailable, 'no new session for this peer now', { peer }));
      return;
    }
    if (!this.makeRoomFor(peer)) {
      this.refusals.peerSessionLimit++;
      this.refuse(link, new VmanageError(ErrorCodes.Unavailable, 'too many sessions for this peer', { peer }));
      return;
    }
    if (this.sessions.size >= (this.opts.maxSessions ?? 1024)) {
      this.refuse(link, new VmanageError(ErrorCodes.Unavailable, 'too many sessions'));
      return;
    }
    const ch = Channel.attached({ ...this.opts, sessionId: hello.sid, acceptNewSession: false });
    this.track(ch, peer);
    ch.adoptLink(link, false, hello);
    this.events.emit('channel', ch);
  }

  /** With maxSessionsPerPeer: ends the peer's sessions without a connection; false if the peer
   *  still holds the most it may. */
  private makeRoomFor(peer: string): boolean {
    const cap = this.opts.maxSessionsPerPeer;
    if (cap === undefined) return true;
    let held = 0;
    for (const [sid, s] of this.sessions) {
      if (s.peer !== peer) continue;
      if (s.channel.state === 'connected') {
        held++;
        continue;
      }
      this.sessions.delete(sid);
      s.linger?.cancel();
      this.refusals.peerSessionsEnded++;
      void s.channel.close();
    }
    return held < cap;
  }

  private track(ch: Channel, peer?: string): void {
    const entry: Session = { channel: ch, ...(peer !== undefined ? { peer } : {}) };
    this.sessions.set(ch.sessionId, entry);
    const clock = resolveOptions(this.opts).clock;
    ch.events.on('disconnected', () => {
      entry.linger?.cancel();
      entry.linger = clock.setTimer(this.opts.sessionLingerMs ?? 60_000, () => void ch.close());
    });
    ch.events.on('connected', () => {
      entry.linger?.cancel();
      entry.linger = undefined;
    });
    ch.events.on('closed', () => {
      entry.linger?.cancel();
      if (this.sessions.get(ch.sessionId) === entry) this.sessions.delete(ch.sessionId);
    });
  }

  private refuse(link: Link, error: VmanageError): void {
    this.counters.handshakeFailures++;
    this.events.emit('refused', { peer: link.conn.peer.id, error });
    link.close(error, { code: error.code, message: error.message });
  }
}
