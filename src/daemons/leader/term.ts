// Where the leader's term and its fencing token come from. Without etcd, one leader runs and its
// term is a counter in its SQLite store, raised at every start (local-term.ts). With etcd, the
// term is won in an election and the token is the election revision (etcd-term.ts): standbys
// wait, and a leader that loses its lease is deposed at once. The leader core does leader work
// (accepts hosts, splits budgets, plans, commands) only between `elected` and `deposed`, and
// stamps every budget and command with `token`, so hosts refuse a deposed leader's commands.
import type { EventEmitter } from 'node:events';

export interface TermEvents {
  elected: [token: number];
  deposed: [reason: string];
  /** Who leads now (for a standby's answers); undefined when nobody is known to lead. */
  leader: [id: string | undefined];
}

export interface TermSource {
  readonly events: EventEmitter<TermEvents>;
  /** The token of the term this process leads, undefined while it does not lead. */
  readonly token: number | undefined;
  /** Starts campaigning (etcd) or takes the term at once (local). */
  start(): Promise<void>;
  /** Gives the term up (resign) and stops. */
  stop(): Promise<void>;
}
