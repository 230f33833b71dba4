// Several endpoints for one logical peer (a Cluster Leader and its standbys): a Connector that
// dials the current endpoint and, after a failure, the next one in turn (wrapping around).
// Contract:
// - One connect() tries at most one round: the current endpoint, then each next one while the
//   attempt's signal is not aborted. A refused endpoint costs a round trip, so a killed leader's
//   hosts reach the standby within the same attempt; an endpoint that hangs uses up the caller's
//   connect timeout (the signal), and the next connect() starts at the endpoint after it.
// - The endpoint that answered stays current (sticky) until it fails or advance() is called (the
//   caller learnt it is the wrong peer, e.g. "not the leader").
// - All failing: UNAVAILABLE naming every endpoint tried and its error.
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import type { Connection, Connector } from '../types.js';

export interface FailoverConnector extends Connector {
  /** Index (in the order given) of the endpoint the next attempt dials first. */
  readonly current: number;
  /** Failed attempts per endpoint, in the order given. */
  readonly failures: readonly number[];
  /** Successful connections per endpoint, in the order given. */
  readonly connections: readonly number[];
  /** The next attempt starts at the next endpoint (wrapping around). */
  advance(): void;
}

export function failoverConnector(connectors: readonly Connector[]): FailoverConnector {
  if (connectors.length === 0) throw new VmanageError(ErrorCodes.InvalidInput, 'failoverConnector: at least one connector is needed', {});
  const list = [...connectors];
  const failures = list.map(() => 0);
  const connections = list.map(() => 0);
  let index = 0;
  const at = (i: number): Connector => list[i] as Connector;
  const advance = (): void => { index = (index + 1) % list.length; };

  async function connect(signal?: AbortSignal): Promise<Connection> {
    const errors: string[] = [];
    for (let tried = 0; tried < list.length; tried++) {
      if (signal?.aborted) break;
      const i = index;
      try {
        const conn = await at(i).connect(signal);
        connections[i] = (connections[i] ?? 0) + 1;
        return conn;
      } catch (err) {
        failures[i] = (failures[i] ?? 0) + 1;
        errors.push(`${at(i).target}: ${err instanceof Error ? err.message : String(err)}`);
        // Another caller may have moved on meanwhile; only move past the endpoint that failed.
        if (index === i) advance();
      }
    }
    const what = signal?.aborted && errors.length < list.length ? ' (attempt aborted)' : '';
    throw new VmanageError(ErrorCodes.Unavailable, `no endpoint answered${what}: ${errors.join('; ') || 'none tried'}`, { endpoints: list.map((c) => c.target) });
  }

  return {
    kind: 'failover',
    get target() { return at(index).target; },
    get current() { return index; },
    failures,
    connections,
    advance,
    connect,
  };
}
