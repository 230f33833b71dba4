// Leader-side tables on SQLite: the hosts registry, budget history, leader decisions (inputs,
// reason, predicted and actual outcome, fencing token) and migrations. Bounded: decisions and
// budgets follow the retention rules; finished migrations older than the retention window go.
import type { HostPowerState, HostRegistration, LeaderDecision, LeaderDecisionKind } from '../../domain/cluster.js';
import type { Db } from './sqlite.js';
import { defaultRetention, pruneTable, type RetentionOptions } from './journal.js';

export interface HostRecord {
  readonly registration: HostRegistration;
  readonly state: HostPowerState;
  readonly stateSince: number;
  readonly budgetWatts: number;
  readonly reliability: number;
  readonly registeredAt: number;
  readonly updatedAt: number;
}

export interface StoredDecision {
  readonly id: number;
  readonly at: number;
  readonly decision: LeaderDecision;
  readonly fencingToken?: string;
  readonly outcome?: string;
  readonly actual?: Readonly<Record<string, unknown>>;
  readonly actualAt?: number;
}

export type MigrationStatus = 'running' | 'succeeded' | 'failed' | 'aborted';

export interface MigrationRecord {
  readonly id: number;
  readonly decisionId?: number;
  readonly vm: string;
  readonly from: string;
  readonly to: string;
  readonly memoryMiB: number;
  readonly startedAt: number;
  readonly endedAt?: number;
  readonly status: MigrationStatus;
  readonly error?: string;
}

interface HostRow { id: string; registration: string; state: string; state_since: number; budget_watts: number; reliability: number; registered_at: number; updated_at: number }
interface DecisionRow { id: number; at: number; kind: string; target: string; value: number; from_host: string | null; to_host: string | null; policy: string; reason_code: string; reason_text: string; predicted: string; inputs: string; fencing_token: string | null; outcome: string | null; actual: string | null; actual_at: number | null }
interface MigrationRow { id: number; decision_id: number | null; vm: string; from_host: string; to_host: string; memory_mib: number; started_at: number; ended_at: number | null; status: string; error: string | null }

export class LeaderStore {
  private writes = 0;

  constructor(private readonly db: Db, private readonly retention: RetentionOptions = defaultRetention) {}

  /** Registers a host or updates its registration; keeps state and budget if known. */
  upsertHost(reg: HostRegistration, now: number, init: { budgetWatts: number; state?: HostPowerState; reliability?: number }): void {
    this.db.prepare(`INSERT INTO hosts (id, registration, state, state_since, budget_watts, reliability, registered_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(id) DO UPDATE SET registration = excluded.registration, updated_at = excluded.updated_at`)
      .run(reg.id, JSON.stringify(reg), init.state ?? 'on', now, init.budgetWatts, init.reliability ?? 1, now, now);
  }

  updateHost(id: string, now: number, change: { state?: HostPowerState; budgetWatts?: number; reliability?: number }): boolean {
    const cur = this.host(id);
    if (!cur) return false;
    const state = change.state ?? cur.state;
    this.db.prepare('UPDATE hosts SET state = ?, state_since = ?, budget_watts = ?, reliability = ?, updated_at = ? WHERE id = ?')
      .run(state, state !== cur.state ? now : cur.stateSince, change.budgetWatts ?? cur.budgetWatts, change.reliability ?? cur.reliability, now, id);
    return true;
  }

  removeHost(id: string): boolean {
    return this.db.prepare('DELETE FROM hosts WHERE id = ?').run(id).changes > 0;
  }

  host(id: string): HostRecord | undefined {
    const r = this.db.prepare('SELECT * FROM hosts WHERE id = ?').get(id) as HostRow | undefined;
    return r ? toHost(r) : undefined;
  }

  hosts(): HostRecord[] {
    return (this.db.prepare('SELECT * FROM hosts ORDER BY id').all() as HostRow[]).map(toHost);
  }

  /** Records new budgets (one transaction) and sets them on the hosts. */
  setBudgets(at: number, budgets: ReadonlyMap<string, number>, reason: string): void {
    const ins = this.db.prepare('INSERT INTO budgets (at, host, watts, reason) VALUES (?, ?, ?, ?)');
    const upd = this.db.prepare('UPDATE hosts SET budget_watts = ?, updated_at = ? WHERE id = ?');
    this.db.transaction(() => {
      for (const [host, watts] of budgets) {
        ins.run(at, host, watts, reason);
        upd.run(watts, at, host);
      }
    })();
    this.maybePrune();
  }

  budgetHistory(host: string, limit = 100): { at: number; watts: number; reason: string }[] {
    return this.db.prepare('SELECT at, watts, reason FROM (SELECT * FROM budgets WHERE host = ? ORDER BY id DESC LIMIT ?) ORDER BY id').all(host, limit) as { at: number; watts: number; reason: string }[];
  }

  recordDecision(at: number, d: LeaderDecision, fencingToken?: string): number {
    const info = this.db.prepare(`INSERT INTO decisions (at, kind, target, value, from_host, to_host, policy, reason_code, reason_text, predicted, inputs, fencing_token)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(at, d.kind, d.target, d.value, d.from ?? null, d.to ?? null, d.policy, d.reason.code, d.reason.text, JSON.stringify(d.predicted), JSON.stringify(d.inputs), fencingToken ?? null);
    this.maybePrune();
    return Number(info.lastInsertRowid);
  }

  /** The outcome ('applied', 'refused', 'failed', ...) and the effect measured afterwards. */
  recordOutcome(id: number, outcome: string, actual?: Readonly<Record<string, unknown>>, actualAt?: number): void {
    this.db.prepare('UPDATE decisions SET outcome = ?, actual = ?, actual_at = ? WHERE id = ?')
      .run(outcome, actual ? JSON.stringify(actual) : null, actualAt ?? null, id);
  }

  decision(id: number): StoredDecision | undefined {
    const r = this.db.prepare('SELECT * FROM decisions WHERE id = ?').get(id) as DecisionRow | undefined;
    return r ? toDecision(r) : undefined;
  }

  /** Newest decisions, newest last; optionally only those about `target`. */
  decisions(limit: number, target?: string): StoredDecision[] {
    const rows = target === undefined
      ? this.db.prepare('SELECT * FROM (SELECT * FROM decisions ORDER BY id DESC LIMIT ?) ORDER BY id').all(limit)
      : this.db.prepare('SELECT * FROM (SELECT * FROM decisions WHERE target = ? ORDER BY id DESC LIMIT ?) ORDER BY id').all(target, limit);
    return (rows as DecisionRow[]).map(toDecision);
  }

  startMigration(m: { decisionId?: number; vm: string; from: string; to: string; memoryMiB: number; at: number }): number {
    return Number(this.db.prepare(`INSERT INTO migrations (decision_id, vm, from_host, to_host, memory_mib, started_at, status) VALUES (?, ?, ?, ?, ?, ?, 'running')`)
      .run(m.decisionId ?? null, m.vm, m.from, m.to, m.memoryMiB, m.at).lastInsertRowid);
  }

  finishMigration(id: number, status: Exclude<MigrationStatus, 'running'>, at: number, error?: string): boolean {
    return this.db.prepare(`UPDATE migrations SET status = ?, ended_at = ?, error = ? WHERE id = ? AND status = 'running'`).run(status, at, error ?? null, id).changes > 0;
  }

  migrations(filter: { status?: MigrationStatus; vm?: string; limit?: number } = {}): MigrationRecord[] {
    const rows = this.db.prepare(`SELECT * FROM migrations WHERE (@status IS NULL OR status = @status) AND (@vm IS NULL OR vm = @vm) ORDER BY id DESC LIMIT @limit`)
      .all({ status: filter.status ?? null, vm: filter.vm ?? null, limit: filter.limit ?? 1000 }) as MigrationRow[];
    return rows.reverse().map(toMigration);
  }

  /** Applies the retention rules to decisions, budgets and finished migrations. */
  prune(now: number): number {
    let n = pruneTable(this.db, 'decisions', this.retention) + pruneTable(this.db, 'budgets', this.retention);
    n += this.db.prepare(`DELETE FROM migrations WHERE status != 'running' AND ended_at < ?`).run(now - this.retention.retentionMs).changes;
    return n;
  }

  private maybePrune(): void {
    if (++this.writes % this.retention.pruneEvery === 0) {
      pruneTable(this.db, 'decisions', this.retention);
      pruneTable(this.db, 'budgets', this.retention);
    }
  }
}

function toHost(r: HostRow): HostRecord {
  return { registration: JSON.parse(r.registration) as HostRegistration, state: r.state as HostPowerState, stateSince: r.state_since, budgetWatts: r.budget_watts, reliability: r.reliability, registeredAt: r.registered_at, updatedAt: r.updated_at };
}

function toDecision(r: DecisionRow): StoredDecision {
  const decision: LeaderDecision = {
    kind: r.kind as LeaderDecisionKind, target: r.target, value: r.value, policy: r.policy,
    ...(r.from_host !== null ? { from: r.from_host } : {}), ...(r.to_host !== null ? { to: r.to_host } : {}),
    reason: { code: r.reason_code, text: r.reason_text }, predicted: JSON.parse(r.predicted), inputs: JSON.parse(r.inputs),
  };
  return {
    id: r.id, at: r.at, decision,
    ...(r.fencing_token !== null ? { fencingToken: r.fencing_token } : {}),
    ...(r.outcome !== null ? { outcome: r.outcome } : {}),
    ...(r.actual !== null ? { actual: JSON.parse(r.actual) } : {}),
    ...(r.actual_at !== null ? { actualAt: r.actual_at } : {}),
  };
}

function toMigration(r: MigrationRow): MigrationRecord {
  return {
    id: r.id, vm: r.vm, from: r.from_host, to: r.to_host, memoryMiB: r.memory_mib, startedAt: r.started_at, status: r.status as MigrationStatus,
    ...(r.decision_id !== null ? { decisionId: r.decision_id } : {}), ...(r.ended_at !== null ? { endedAt: r.ended_at } : {}), ...(r.error !== null ? { error: r.error } : {}),
  };
}
