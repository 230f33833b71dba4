// Requests this side sent and waits replies for: a table of pending promises with timeouts, and
// the typed errors a reply can turn into. Replies travel as sequenced messages, so a request
// survives reconnects; only its timeout, a failure to queue it, or the channel's end settles it
// without a reply.
import type { Clock, TimerHandle } from '../domain/clock.js';
import { ErrorCodes, VmanageError, type ErrorCode } from '../domain/errors.js';
import type { ChannelCounters } from './counters.js';
import type { Checked } from './validator.js';
import type { MsgFrame } from './wire.js';

interface Pending { kind: string; resolve: (v: unknown) => void; reject: (e: Error) => void; timer: TimerHandle }

const KNOWN_CODES = new Set<string>(Object.values(ErrorCodes));

/** A peer's error code as ours; codes we do not know become PROTOCOL_VIOLATION. */
export function toCode(code: string): ErrorCode {
  return KNOWN_CODES.has(code) ? (code as ErrorCode) : ErrorCodes.ProtocolViolation;
}

export class RequestTable {
  private readonly pending = new Map<number, Pending>();
  private readonly clock: Clock;
  private readonly counters: ChannelCounters;

  constructor(clock: Clock, counters: ChannelCounters) {
    this.clock = clock;
    this.counters = counters;
  }

  get size(): number {
    return this.pending.size;
  }

  /**
   * Opens request id and queues its message with enqueue. The reply promise resolves with the
   * validated reply, or rejects with REQUEST_TIMEOUT after timeoutMs, the peer's error, or what
   * enqueue threw or rejected with (e.g. FRAME_TOO_LARGE, CHANNEL_CLOSED: nothing stays pending).
   * The request is open before enqueue runs, so a reply can never arrive ahead of it.
   */
  start(id: number, kind: string, timeoutMs: number, enqueue: () => Promise<void>): Promise<unknown> {
    const { reply, fail } = this.open(id, kind, timeoutMs);
    try {
      enqueue().catch(fail);
    } catch (err) {
      fail(err instanceof Error ? err : new Error(String(err)));
    }
    return reply;
  }

  /** Waits for the reply to request id; rejects with REQUEST_TIMEOUT after timeoutMs. */
  private open(id: number, kind: string, timeoutMs: number): { reply: Promise<unknown>; fail: (err: Error) => void } {
    let fail: (err: Error) => void = () => {};
    const reply = new Promise<unknown>((resolve, reject) => {
      const timer = this.clock.setTimer(timeoutMs, () => {
        if (!this.pending.delete(id)) return;
        this.counters.requestTimeouts++;
        reject(new VmanageError(ErrorCodes.RequestTimeout, `no reply to ${kind} within ${timeoutMs} ms`, { kind, timeoutMs, requestId: id }));
      });
      this.pending.set(id, { kind, resolve, reject, timer });
      fail = (err) => {
        if (this.pending.delete(id)) {
          timer.cancel();
          reject(err);
        }
      };
    });
    return { reply, fail };
  }

  /**
   * Settles the request a reply frame answers. check validates the reply body for the request's
   * kind; an invalid one rejects with INVALID_INPUT and is reported through onInvalid.
   */
  settle(f: MsgFrame, check: (kind: string, body: unknown) => Checked, onInvalid: (code: 'UNSUPPORTED' | 'INVALID_INPUT', message: string) => void): void {
    const id = f.p as number;
    const p = this.pending.get(id);
    if (!p) {
      this.counters.unknownReply++;
      return;
    }
    this.pending.delete(id);
    p.timer.cancel();
    if (f.e) {
      p.reject(new VmanageError(toCode(f.e.code), `peer answered ${p.kind} with ${f.e.code}: ${f.e.message}`, { peerCode: f.e.code, kind: p.kind }));
      return;
    }
    const c = check(p.kind, f.b);
    if (!c.ok) {
      onInvalid(c.code, c.message);
      p.reject(new VmanageError(ErrorCodes.InvalidInput, `invalid reply to ${p.kind}: ${c.message}`, { kind: p.kind }));
      return;
    }
    p.resolve(c.value);
  }

  failAll(err: VmanageError): void {
    for (const p of this.pending.values()) {
      p.timer.cancel();
      p.reject(err);
    }
    this.pending.clear();
  }
}
