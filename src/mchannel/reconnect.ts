// The client side's connection loop: one attempt at a time through the Connector, each bounded by
// connectTimeoutMs; after a failure or a lost connection the next attempt waits a random time in
// [0, backoff) (full jitter), backoff doubling from backoffMinMs to backoffMaxMs and falling back
// to backoffMinMs after a successful handshake.
import type { Clock, Random, TimerHandle } from '../domain/clock.js';
import type { ChannelLogger } from './options.js';
import type { ChannelCounters } from './counters.js';
import type { Connection, Connector } from './types.js';

export interface ReconnectOptions {
  clock: Clock;
  random: Random;
  backoffMinMs: number;
  backoffMaxMs: number;
  connectTimeoutMs: number;
  logger: ChannelLogger | undefined;
  counters: ChannelCounters;
}

export class Reconnector {
  private backoffMs: number;
  private timer: TimerHandle | undefined;
  private abort: AbortController | undefined;
  private stopped = false;

  constructor(
    private readonly connector: Connector,
    private readonly o: ReconnectOptions,
    private readonly onConnection: (conn: Connection) => void,
  ) {
    this.backoffMs = o.backoffMinMs;
  }

  /** A handshake succeeded: the next loss retries quickly again. */
  succeeded(): void {
    this.backoffMs = this.o.backoffMinMs;
  }

  /** Tries once now. */
  connectNow(): void {
    if (this.stopped) return;
    const abort = new AbortController();
    this.abort = abort;
    const timer = this.o.clock.setTimer(this.o.connectTimeoutMs, () => abort.abort());
    this.connector.connect(abort.signal).then((conn) => {
      timer.cancel();
      if (this.stopped) conn.stream.destroy();
      else this.onConnection(conn);
    }, (err: unknown) => {
      timer.cancel();
      this.o.counters.connectFailures++;
      this.o.logger?.debug({ target: this.connector.target, err: String(err) }, 'M-channel connect failed');
      this.later();
    });
  }

  /** Schedules the next attempt after the backoff. */
  later(): void {
    if (this.stopped) return;
    const delay = Math.floor(this.o.random.next() * this.backoffMs);
    this.backoffMs = Math.min(this.o.backoffMaxMs, this.backoffMs * 2);
    this.timer = this.o.clock.setTimer(delay, () => this.connectNow());
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.abort?.abort();
  }
}
