// Several leader endpoints (the leader and its standbys): a connector that dials the current one
// and moves on to the next after a failed attempt, so a host reaches whichever leader process is
// up. The link also moves on (advance()) when a reachable process says it is not the leader.
import type { Connection, Connector } from '../../mchannel/types.js';

export class RotatingConnector implements Connector {
  readonly kind: string;
  private index = 0;
  /** Connection attempts that failed, per endpoint (same order as given). */
  readonly failures: number[];

  constructor(private readonly connectors: readonly Connector[]) {
    if (connectors.length === 0) throw new RangeError('at least one leader endpoint is needed');
    this.kind = connectors.length === 1 ? (connectors[0] as Connector).kind : 'failover';
    this.failures = connectors.map(() => 0);
  }

  /** The endpoint the next attempt dials. */
  get target(): string {
    return this.current().target;
  }

  get size(): number {
    return this.connectors.length;
  }

  /** The next attempt dials the next endpoint (wrapping around). */
  advance(): void {
    this.index = (this.index + 1) % this.connectors.length;
  }

  async connect(signal?: AbortSignal): Promise<Connection> {
    const at = this.index;
    try {
      return await this.current().connect(signal);
    } catch (err) {
      this.failures[at] = (this.failures[at] ?? 0) + 1;
      if (this.index === at) this.advance();
      throw err;
    }
  }

  private current(): Connector {
    return this.connectors[this.index] as Connector;
  }
}
