// The leader's term without etcd: one leader runs, and its fencing token is a counter kept in its
// SQLite store, raised by one at every start (in a transaction), so a restarted leader always
// stamps its budgets and commands with a larger token than its previous life did, and the hosts
// accept it. The counter lives in its own table (created if missing), beside the store's schema.
import { EventEmitter } from 'node:events';
import type { Db } from '../../adapters/store/index.js';
import type { TermEvents, TermSource } from './term.js';

export class LocalTerm implements TermSource {
  readonly events = new EventEmitter<TermEvents>();
  private current: number | undefined;

  constructor(private readonly db: Db, private readonly id: string) {
    db.exec('CREATE TABLE IF NOT EXISTS leader_term (k INTEGER PRIMARY KEY CHECK (k = 1), token INTEGER NOT NULL, holder TEXT NOT NULL)');
  }

  get token(): number | undefined {
    return this.current;
  }

  /** The last token taken, without taking a new one (0 before the first start). */
  lastToken(): number {
    const row = this.db.prepare('SELECT token FROM leader_term WHERE k = 1').get() as { token: number } | undefined;
    return row?.token ?? 0;
  }

  async start(): Promise<void> {
    if (this.current !== undefined) return;
    const next = this.db.transaction(() => {
      const token = this.lastToken() + 1;
      this.db.prepare('INSERT INTO leader_term (k, token, holder) VALUES (1, ?, ?) ON CONFLICT(k) DO UPDATE SET token = excluded.token, holder = excluded.holder').run(token, this.id);
      return token;
    })();
    this.current = next;
    this.events.emit('leader', this.id);
    this.events.emit('elected', next);
  }

  async stop(): Promise<void> {
    if (this.current === undefined) return;
    this.current = undefined;
    this.events.emit('deposed', 'stopped');
    this.events.emit('leader', undefined);
  }
}
