// Leader-side tables on SQLite: the hosts registry, budget history, leader decisions (inputs,
// reason, predicted and actual outcome, fencing token) and migrations. Bounded: decisions and
// budgets follow the retention rules; finished migrations older than the retention window go.
// Also the cluster budget set at runtime (table leader_cluster_budget, schema step 2, never pruned).
// Statements are prepared once per SQL text and reused (at 10,000 hosts a budget split journals
// thousands of decisions a second; preparing costs more than running).
import type { HostPowerState, HostRegistration, LeaderDecision, LeaderDecisionKind } from '../../domain/cluster.js';
import type Database from 'better-sqlite3';
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

/** How many of the oldest rows one automatic prune looks at for the age rule (bounded work). */
const PRUNE_SCAN_ROWS = 10_000;

type Statement = Database.Statement;

export class LeaderStore {
  private writes = 0;
  /** Prepared statements by SQL text (a fixed set: every SQL text below is a constant). */
  private readonly statements = new Map<string, Statement>();

  constructor(private readonly db: Db, private readonly retention: RetentionOptions = defaultRetention) {}

  private stmt(sql: string): Statement {
    let s = this.statements.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  /** Registers a host or updates its registration; keeps state and budget if known. */
  upsertHost(reg: HostRegistration, now: number, init: { budgetWatts: number; state?: HostPowerState; reliability?: number }): void {
    this.stmt(`INSERT INTO hosts (id, registration, state, state_since, budget_watts, reliability, registered_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(id) DO UPDATE SET registration = excluded.registration, updated_at = excluded.updated_at`)
      .run(reg.id, JSON.stringify(reg), init.state ?? 'on', now, init.budgetWatts, init.reliability ?? 1, now, now);
  }

  updateHost(id: string, now: number, change: { state?: HostPowerState; budgetWatts?: number; reliability?: number }): boolean {
    const cur = this.host(id);
    if (!cur) return false;
    const state = change.state ?? cur.state;
    this.stmt('UPDATE hosts SET state = ?, state_since = ?, budget_watts = ?, reliability = ?, updated_at = ? WHERE id = ?')
      .run(state, state !== cur.state ? now : cur.stateSince, change.budgetWatts ?? cur.budgetWatts, change.reliability ?? cur.reliability, now, id);
    return true;
  }

  removeHost(id: string): boolean {
    return this.stmt('DELETE FROM hosts WHERE id = ?').run(id).changes > 0;
  }

  host(id: string): HostRecord | undefined {
    const r = this.stmt('SELECT * FROM hosts WHERE id = ?').get(id) as HostRow | undefined;
    return r ? toHost(r) : undefined;
  }

  hosts(): HostRecord[] {
    return (this.stmt('SELECT * FROM hosts ORDER BY id').all() as HostRow[]).map(toHost);
  }

  /** Records new budgets (one transaction) and sets them on the hosts. */
  setBudgets(at: number, budgets: ReadonlyMap<string, number>, reason: string): void {
    const ins = this.stmt('INSERT INTO budgets (at, host, watts, reason) VALUES (?, ?, ?, ?)');
    const upd = this.stmt('UPDATE hosts SET budget_watts = ?, updated_at = ? WHERE id = ?');
    this.db.transaction(() => {
      for (const [host, watts] of budgets) {
        ins.run(at, host, watts, reason);
        upd.run(watts, at, host);
      }
    })();
    this.maybePrune(at);
  }

  budgetHistory(host: string, limit = 100): { at: number; watts: number; reason: string }[] {
    return this.stmt('SELECT at, watts, reason FROM (SELECT * FROM budgets WHERE host = ? ORDER BY id DESC LIMIT ?) ORDER BY id').all(host, limit) as { at: number; watts: number; reason: string }[];
  }

  recordDecision(at: number, d: LeaderDecision, fencingToken?: string): number {
    const info = this.stmt(`INSERT INTO decisions (at, kind, target, value, from_host, to_host, policy, reason_code, reason_text, predicted, inputs, fencing_token)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(at, d.kind, d.target, d.value, d.from ?? null, d.to ?? null, d.policy, d.reason.code, d.reason.text, JSON.stringify(d.predicted), JSON.stringify(d.inputs), fencingToken ?? null);
    this.maybePrune(at);
    return Number(info.lastInsertRowid);
  }

  /** The outcome ('applied', 'refused', 'failed', ...) and the effect measured afterwards. */
  recordOutcome(id: number, outcome: string, actual?: Readonly<Record<string, unknown>>, actualAt?: number): void {
    this.stmt('UPDATE decisions SET outcome = ?, actual = ?, actual_at = ? WHERE id = ?')
      .run(outcome, actual ? JSON.stringify(actual) : null, actualAt ?? null, id);
  }

  decision(id: number): StoredDecision | undefined {
    const r = this.stmt('SELECT * FROM decisions WHERE id = ?').get(id) as DecisionRow | undefined;
    return r ? toDecision(r) : undefined;
  }

  /** Newest decisions, newest last; optionally only those about `target`. */
  decisions(limit: number, target?: string): StoredDecision[] {
    const rows = target === undefined
      ? this.stmt('SELECT * FROM (SELECT * FROM decisions ORDER BY id DESC LIMIT ?) ORDER BY id').all(limit)
      : this.stmt('SELECT * FROM (SELECT * FROM decisions WHERE target = ? ORDER BY id DESC LIMIT ?) ORDER BY id').all(target, limit);
    return (rows as DecisionRow[]).map(toDecision);
  }

  startMigration(m: { decisionId?: number; vm: string; from: string; to: string; memoryMiB: number; at: number }): number {
    return Number(this.stmt(`INSERT INTO migrations (decision_id, vm, from_host, to_host, memory_mib, started_at, status) VALUES (?, ?, ?, ?, ?, ?, 'running')`)
      .run(m.decisionId ?? null, m.vm, m.from, m.to, m.memoryMiB, m.at).lastInsertRowid);
  }

  finishMigration(id: number, status: Exclude<MigrationStatus, 'running'>, at: number, error?: string): boolean {
    return this.stmt(`UPDATE migrations SET status = ?, ended_at = ?, error = ? WHERE id = ? AND status = 'running'`).run(status, at, error ?? null, id).changes > 0;
  }

  migrations(filter: { status?: MigrationStatus; vm?: string; limit?: number } = {}): MigrationRecord[] {
    const rows = this.stmt(`SELECT * FROM migrations WHERE (@status IS NULL OR status = @status) AND (@vm IS NULL OR vm = @vm) ORDER BY id DESC LIMIT @limit`)
      .all({ status: filter.status ?? null, vm: filter.vm ?? null, limit: filter.limit ?? 1000 }) as MigrationRow[];
    return rows.reverse().map(toMigration);
  }

  /** Applies the retention rules to decisions, budgets and finished migrations. */
  prune(now: number): number {
    let n = pruneTable(this.db, 'decisions', this.retention) + pruneTable(this.db, 'budgets', this.retention);
    n += this.stmt(`DELETE FROM migrations WHERE status != 'running' AND ended_at < ?`).run(now - this.retention.retentionMs).changes;
    return n;
  }

  /** The cluster budget last set at runtime, if any (W, ms). */
  clusterBudget(): { watts: number; at: number } | undefined {
    return this.stmt('SELECT watts, at FROM leader_cluster_budget WHERE k = 1').get() as { watts: number; at: number } | undefined;
  }

  /** Stores the cluster budget set at runtime (one row, replaced). */
  setClusterBudget(watts: number, at: number): void {
    this.stmt('INSERT INTO leader_cluster_budget (k, watts, at) VALUES (1, ?, ?) ON CONFLICT(k) DO UPDATE SET watts = excluded.watts, at = excluded.at').run(watts, at);
  }

  private maybePrune(now?: number): void {
    if (++this.writes % this.retention.pruneEvery === 0) {
      this.pruneAppended('decisions', now);
      this.pruneAppended('budgets', now);
    }
  }

  /**
   * The retention rules for an append-only table, in bounded work (pruneTable's MAX(at) and
   * OFFSET scans walk the table: at a budget change per host every few seconds that is millions
   * of rows a second). Rows are appended with rising ids and only pruned from the oldest end, so
   * ids are dense: the newest maxRows are those with id > MAX(id) - maxRows. The age rule looks at
   * the oldest PRUNE_SCAN_ROWS rows each time (ages rise with ids); `now` defaults to the newest at.
   */
  private pruneAppended(table: 'decisions' | 'budgets', now?: number): void {
    const newest = this.stmt(`SELECT id, at FROM ${table} ORDER BY id DESC LIMIT 1`).get() as { id: number; at: number } | undefined;
    if (!newest) return;
    this.stmt(`DELETE FROM ${table} WHERE id <= ?`).run(newest.id - this.retention.maxRows);
    this.stmt(`DELETE FROM ${table} WHERE id IN (SELECT id FROM ${table} ORDER BY id LIMIT ${PRUNE_SCAN_ROWS}) AND at < ?`).run((now ?? newest.at) - this.retention.retentionMs);
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
