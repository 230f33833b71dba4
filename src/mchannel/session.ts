// The session core: sequence numbers, cumulative acks, the replay buffer, duplicate suppression
// and the resume rules of the handshake. No I/O: the Channel feeds it frames and writes what it
// returns. Delivery contract: each data message is delivered once, in seq order; a message the
// peer can no longer resend is reported as a gap with its count (REPLAY_BUFFER_EXCEEDED).
import { ErrorCodes, VmanageError } from '../domain/errors.js';
import type { ChannelCounters } from './counters.js';
import { ReplayBuffer, type ReplayEntry, type ReplayLimits } from './replay.js';
import type { SessionState } from './state.js';
import { PROTOCOL_VERSION, type HelloFrame } from './wire.js';

export interface GapInfo {
  /** 'incoming': messages from the peer we will never get; 'outgoing': ours the peer never got. */
  direction: 'incoming' | 'outgoing';
  lost: number;
  fromSeq: number;
  toSeq: number;
  error: VmanageError;
}

export interface HelloOutcome {
  gaps: GapInfo[];
  /** Set when the peer started a new session or lost its send state. */
  reset?: { reason: string; lostOutgoing: number };
  /** Our replay entries the peer still needs, oldest first. */
  resend: ReplayEntry[];
  /** The resume point to announce in our answer (before any incoming gap was skipped). */
  answerAck: number;
}

export class SessionCore {
  sid: string;
  incarnation: string;
  peerIncarnation: string | null;
  nextSeq: number;
  received: number;
  peerAck: number;
  nextRequestId: number;
  readonly replay: ReplayBuffer;
  private readonly counters: ChannelCounters;
  private readonly newId: () => string;

  constructor(limits: ReplayLimits, counters: ChannelCounters, newId: () => string, sid: string, state?: SessionState) {
    this.replay = new ReplayBuffer(limits);
    this.counters = counters;
    this.newId = newId;
    this.sid = state?.sessionId ?? sid;
    this.incarnation = state?.incarnation ?? newId();
    this.peerIncarnation = state?.peerIncarnation ?? null;
    this.nextSeq = state?.nextSeq ?? 1;
    this.received = state?.received ?? 0;
    this.peerAck = state?.peerAck ?? 0;
    this.nextRequestId = state?.nextRequestId ?? 1;
    for (const e of state?.replay ?? []) this.replay.push({ seq: e.seq, payload: e.payload, bytes: Buffer.byteLength(e.payload) });
  }

  /** Lowest seq we can still send (the hello's base). */
  base(): number {
    return this.replay.firstSeq() ?? this.nextSeq;
  }

  /** ack: the resume point to announce (default: received). An answer to a hello that revealed
   *  an incoming gap announces the point before the gap, so the peer computes the same loss. */
  hello(role: string, identity: string, re: boolean, ack = this.received, nonce?: string): HelloFrame {
    const h: HelloFrame = { t: 'hello', v: PROTOCOL_VERSION, role, id: identity, sid: this.sid, inc: this.incarnation, ack, base: this.base(), re };
    if (nonce !== undefined) {
      if (re) h.echo = nonce;
      else h.n = nonce;
    }
    return h;
  }

  /** Assigns the next seq and holds the message for replay. */
  add(payload: string, bytes: number): ReplayEntry {
    const entry = { seq: this.nextSeq++, payload, bytes };
    this.replay.push(entry);
    return entry;
  }

  /**
   * A cumulative ack from the peer. Returns false when it acknowledges a seq we never sent (the
   * caller counts it as bad input); true otherwise.
   */
  ack(a: number): boolean {
    if (a <= this.peerAck) return true;
    if (a >= this.nextSeq) return false;
    this.peerAck = a;
    this.replay.release(a);
    return true;
  }

  /** Classifies an incoming data seq: deliver it, or drop it as duplicate / out of order. */
  accept(seq: number): 'deliver' | 'duplicate' | 'ahead' {
    if (seq <= this.received) return 'duplicate';
    if (seq !== this.received + 1) return 'ahead';
    this.received = seq;
    return 'deliver';
  }

  /** Applies the peer's hello (sid already matched or adopted by the caller). */
  onHello(h: HelloFrame): HelloOutcome {
    const out: HelloOutcome = { gaps: [], resend: [], answerAck: this.received };
    if (this.peerIncarnation === null && this.received === 0 && h.base > 1) {
      // We never heard from this peer (a new session object: e.g. a restarted host daemon that a
      // guest reconnects to): its stream starts for us at its base. What it sent before went to
      // our predecessor and was acknowledged there; that is not a loss.
      this.received = h.base - 1;
      out.answerAck = this.received;
    }
    if (this.peerIncarnation !== null && h.inc !== this.peerIncarnation) {
      // The peer lost its outgoing state: its new stream starts at its base.
      out.reset = { reason: 'peer restarted its outgoing stream', lostOutgoing: 0 };
      this.received = h.base - 1;
      out.answerAck = this.received;
    }
    this.peerIncarnation = h.inc;
    if (h.base > this.received + 1) {
      out.gaps.push(this.gap('incoming', this.received + 1, h.base - 1));
      this.received = h.base - 1;
    }
    if (h.ack >= this.nextSeq) {
      // The peer saw later messages of ours than this state knows (we resumed an older export):
      // continue numbering after them so nothing we send is mistaken for a duplicate.
      this.nextSeq = h.ack + 1;
      this.replay.clear();
    }
    const base = this.base();
    if (h.ack + 1 < base) out.gaps.push(this.gap('outgoing', h.ack + 1, base - 1));
    if (h.ack > this.peerAck) {
      this.peerAck = h.ack;
      this.replay.release(h.ack);
    }
    out.resend = [...this.replay.after(h.ack)];
    return out;
  }

  /** The peer opened a new session with another id: our old stream is void. */
  adoptNewSession(sid: string): number {
    const lost = this.replay.count;
    this.sid = sid;
    this.incarnation = this.newId();
    this.peerIncarnation = null;
    this.nextSeq = 1;
    this.received = 0;
    this.peerAck = 0;
    this.replay.clear();
    this.counters.lostOutgoing += lost;
    return lost;
  }

  export(role: string): SessionState {
    return {
      version: 1, sessionId: this.sid, role, incarnation: this.incarnation, peerIncarnation: this.peerIncarnation,
      nextSeq: this.nextSeq, received: this.received, peerAck: this.peerAck, replay: this.replay.toJSON(), nextRequestId: this.nextRequestId,
    };
  }

  private gap(direction: 'incoming' | 'outgoing', fromSeq: number, toSeq: number): GapInfo {
    const lost = toSeq - fromSeq + 1;
    this.counters.gaps++;
    if (direction === 'incoming') this.counters.lostIncoming += lost;
    else this.counters.lostOutgoing += lost;
    const what = direction === 'incoming' ? 'from the peer were lost' : 'to the peer were lost';
    const error = new VmanageError(ErrorCodes.ReplayBufferExceeded,
      `${lost} message(s) ${what} (seq ${fromSeq}..${toSeq}): the resume point is older than the replay buffer holds`,
      { direction, lost, fromSeq, toSeq, sessionId: this.sid });
    return { direction, lost, fromSeq, toSeq, error };
  }
}
