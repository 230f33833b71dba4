// Outgoing data messages (send, request, replies) on their way into the session. Contract: a
// message enters the replay buffer, and is written if a connection is up, in the order it was
// given. While the buffer is full, whenReplayFull 'wait' holds it (and everything after it) until
// the peer's acks make room; 'evict' drops the oldest unacknowledged messages instead (each
// counted in `evicted`; the peer learns of them as a gap). close() can wait for the buffer to empty.
import type { Clock } from '../domain/clock.js';
import type { VmanageError } from '../domain/errors.js';
import type { ChannelCounters } from './counters.js';
import { checkFrameSize } from './framing.js';
import type { SessionCore } from './session.js';

/** What enqueue returns when the message went into the replay buffer at once. */
export const SENT: Promise<void> = Promise.resolve();

/** A frame is {"t":"msg","s":N,"a":N, + payload + }: 48 bytes cover the envelope. */
const ENVELOPE_BYTES = 48;

interface Waiter { payload: string; bytes: number; resolve: () => void; reject: (e: Error) => void }

export interface OutboxOptions {
  clock: Clock;
  /** The frame limit (bytes) the payload plus its envelope must fit in. */
  maxFrameBytes: number;
  whenReplayFull: 'wait' | 'evict';
}

export class Outbox {
  private waiters: Waiter[] = [];
  /** flushed() calls still waiting. */
  private readonly flushes = new Set<() => void>();
  private readonly core: SessionCore;
  private readonly counters: ChannelCounters;
  private readonly opts: OutboxOptions;
  private readonly transmit: (seq: number, payload: string) => void;

  /** transmit writes a message just added to the replay buffer, if a handshaken connection is up. */
  constructor(core: SessionCore, counters: ChannelCounters, opts: OutboxOptions, transmit: (seq: number, payload: string) => void) {
    this.core = core;
    this.counters = counters;
    this.opts = opts;
    this.transmit = transmit;
  }

  /**
   * Takes an encoded payload (encode.ts). Returns SENT when it is in the replay buffer already,
   * else a promise that resolves once it is (rejected by end()). Throws FRAME_TOO_LARGE.
   */
  enqueue(payload: string): Promise<void> {
    const bytes = checkFrameSize(payload, this.opts.maxFrameBytes - ENVELOPE_BYTES);
    const n = bytes >= 0 ? bytes : Buffer.byteLength(payload);
    const replay = this.core.replay;
    if (this.waiters.length === 0 && !replay.wouldOverflow(n)) {
      this.add(payload, n);
      return SENT;
    }
    if (this.opts.whenReplayFull === 'evict') {
      while (replay.wouldOverflow(n) && replay.evictOldest()) this.counters.evicted++;
      this.add(payload, n);
      return SENT;
    }
    return new Promise((resolve, reject) => this.waiters.push({ payload, bytes: n, resolve, reject }));
  }

  /** Moves waiting messages into the buffer while it has room (after acks or a handshake);
   *  ends the flushed() waits when nothing is left unacknowledged. */
  drain(): void {
    const replay = this.core.replay;
    while (this.waiters.length > 0) {
      const w = this.waiters[0] as Waiter;
      if (replay.wouldOverflow(w.bytes)) break;
      this.waiters.shift();
      this.add(w.payload, w.bytes);
      w.resolve();
    }
    if (replay.count === 0) this.release();
  }

  /** Resolves (never rejects) when drain() finds the replay buffer empty, after timeoutMs (ms),
   *  or at release(), whichever comes first. */
  flushed(timeoutMs: number): Promise<void> {
    if (this.core.replay.count === 0) return SENT;
    return new Promise((resolve) => {
      const done = (): void => {
        if (!this.flushes.delete(done)) return;
        timer.cancel();
        resolve();
      };
      const timer = this.opts.clock.setTimer(timeoutMs, done);
      this.flushes.add(done);
    });
  }

  /** Ends the flushed() waits now (the connection dropped: no acks will come on it). */
  release(): void {
    for (const f of [...this.flushes]) f();
  }

  /** The channel ended: rejects every waiting message with why and ends the flushed() waits. */
  end(why: VmanageError): void {
    for (const w of this.waiters) w.reject(why);
    this.waiters = [];
    this.release();
  }

  private add(payload: string, bytes: number): void {
    const e = this.core.add(payload, bytes);
    this.counters.sent++;
    this.transmit(e.seq, payload);
  }
}
