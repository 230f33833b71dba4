// When the receiving side acknowledges (delayed cumulative acks). Contract: after a delivered
// message, an ack frame is written once ackEvery messages are unacknowledged, or ackDelayMs (ms)
// after the first unacknowledged one, whichever comes first; any frame that already carries the
// current ack (a message, a hello, a heartbeat) settles what is owed, so no ack frame follows it.
import type { Clock, TimerHandle } from '../domain/clock.js';

export interface AckOptions {
  /** Unacknowledged messages that trigger an ack at once. */
  ackEvery: number;
  /** Longest an ack is held back, in ms. */
  ackDelayMs: number;
}

export class AckScheduler {
  private unacked = 0;
  private timer: TimerHandle | undefined;
  private readonly clock: Clock;
  private readonly opts: AckOptions;
  private readonly writeAck: () => void;

  /** writeAck writes an ack frame with the current cumulative ack (if a connection can take it). */
  constructor(clock: Clock, opts: AckOptions, writeAck: () => void) {
    this.clock = clock;
    this.opts = opts;
    this.writeAck = writeAck;
  }

  /** A message arrived that the peer needs acknowledged (delivered, or a duplicate). */
  received(): void {
    if (++this.unacked >= this.opts.ackEvery) this.flush();
    else if (!this.timer) this.timer = this.clock.setTimer(this.opts.ackDelayMs, () => { this.timer = undefined; this.flush(); });
  }

  /** A message or hello carrying the current ack is being written: nothing is owed after it
   *  (a pending timer finds nothing to say). */
  piggybacked(): void {
    this.unacked = 0;
  }

  /** A heartbeat is about to carry the current ack: nothing is owed and no timer is left. */
  carried(): void {
    this.unacked = 0;
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** The channel ended: no ack is written any more. */
  stop(): void {
    this.timer?.cancel();
  }

  private flush(): void {
    if (this.unacked === 0) return;
    this.unacked = 0;
    this.writeAck();
  }
}
