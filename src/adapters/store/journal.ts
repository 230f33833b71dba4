// The broker's DecisionJournal on SQLite: every decision with inputs, reason, predicted effect,
// outcome (applied / refused with the refusal / overruled) and, later, the observed effect.
// Retention is bounded: at most `maxRows` entries, and none older than `retentionMs` (checked
// every `pruneEvery` appends), so the file does not grow without bound.
import type { DecisionJournal, JournalEntry, ObservedEffect } from '../../broker/journal.js';
import type { Decision, DecisionKind } from '../../domain/model.js';
import type { Db } from './sqlite.js';

export interface RetentionOptions {
  readonly maxRows: number;
  /** ms; entries older than (newest `at` - retentionMs) are dropped. */
  readonly retentionMs: number;
  readonly pruneEvery: number;
}

export const defaultRetention: RetentionOptions = { maxRows: 1_000_000, retentionMs: 30 * 86_400_000, pruneEvery: 1000 };

interface Row {
  id: number; at: number; host: string; kind: string; target: string; value: number; policy: string;
  reason_code: string; reason_text: string; predicted: string; inputs: string; outcome: string;
  backend: string | null; refusal: string | null; observed: string | null;
}

export function pruneTable(db: Db, table: string, r: RetentionOptions): number {
  const newest = (db.prepare(`SELECT MAX(at) AS at FROM ${table}`).get() as { at: number | null }).at;
  if (newest === null) return 0;
  let n = db.prepare(`DELETE FROM ${table} WHERE at < ?`).run(newest - r.retentionMs).changes;
  n += db.prepare(`DELETE FROM ${table} WHERE id <= (SELECT id FROM ${table} ORDER BY id DESC LIMIT 1 OFFSET ?)`).run(r.maxRows).changes;
  return n;
}

export class SqliteJournal implements DecisionJournal {
  private readonly insert;
  private readonly update;
  private readonly select;
  private appends = 0;

  constructor(private readonly db: Db, private readonly retention: RetentionOptions = defaultRetention) {
    this.insert = db.prepare(`INSERT INTO journal (at, host, kind, target, value, policy, reason_code, reason_text, predicted, inputs, outcome, backend, refusal)
      VALUES (@at, @host, @kind, @target, @value, @policy, @reason_code, @reason_text, @predicted, @inputs, @outcome, @backend, @refusal)`);
    this.update = db.prepare('UPDATE journal SET observed = ? WHERE id = ?');
    this.select = db.prepare('SELECT * FROM (SELECT * FROM journal ORDER BY id DESC LIMIT ?) ORDER BY id ASC');
  }

  append(e: Omit<JournalEntry, 'id' | 'observed'>): number {
    const d = e.decision;
    const info = this.insert.run({
      at: e.at, host: e.host, kind: d.kind, target: d.target, value: d.value, policy: d.policy,
      reason_code: d.reason.code, reason_text: d.reason.text, predicted: JSON.stringify(d.predicted), inputs: JSON.stringify(d.inputs),
      outcome: e.outcome, backend: e.backend ?? null, refusal: e.refusal ? JSON.stringify(e.refusal) : null,
    });
    if (++this.appends % this.retention.pruneEvery === 0) this.prune();
    return Number(info.lastInsertRowid);
  }

  observe(id: number, observed: ObservedEffect): void {
    this.update.run(JSON.stringify(observed), id);
  }

  recent(limit: number): JournalEntry[] {
    const rows = this.select.all(Math.max(0, Math.floor(limit))) as Row[];
    return rows.map(toEntry);
  }

  /** Applies the retention rules now; returns the number of entries dropped. */
  prune(): number {
    return pruneTable(this.db, 'journal', this.retention);
  }
}

function toEntry(r: Row): JournalEntry {
  const decision: Decision = {
    kind: r.kind as DecisionKind, target: r.target, value: r.value, policy: r.policy,
    reason: { code: r.reason_code, text: r.reason_text }, predicted: JSON.parse(r.predicted), inputs: JSON.parse(r.inputs),
  };
  return {
    id: r.id, at: r.at, host: r.host, decision, outcome: r.outcome as JournalEntry['outcome'],
    ...(r.backend !== null ? { backend: r.backend } : {}),
    ...(r.refusal !== null ? { refusal: JSON.parse(r.refusal) } : {}),
    ...(r.observed !== null ? { observed: JSON.parse(r.observed) } : {}),
  };
}
