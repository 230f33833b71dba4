// The leader's decision journal: every decision is stored (LeaderStore) with its inputs, reason,
// predicted effect and fencing token before it is carried out, then its outcome and the effect
// measured afterwards; each one is logged with its why and emitted as a `decision` event.
import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { LeaderDecision, LeaderDecisionKind } from '../../domain/cluster.js';
import type { Db, LeaderStore, StoredDecision } from '../../adapters/store/index.js';
import type { DecisionView, LeaderEvents } from './api.js';
import { bump } from './sessions.js';

function numeric(o: object): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(o)) if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  return out;
}

export function decisionView(s: StoredDecision): DecisionView {
  const d = s.decision;
  const token = s.fencingToken !== undefined ? Number(s.fencingToken) : undefined;
  return {
    id: s.id, at: s.at, kind: d.kind, target: d.target, value: d.value,
    ...(d.from !== undefined ? { from: d.from } : {}), ...(d.to !== undefined ? { to: d.to } : {}),
    policy: d.policy, reason: { code: d.reason.code, text: d.reason.text }, predicted: numeric(d.predicted), inputs: d.inputs,
    ...(token !== undefined && Number.isFinite(token) ? { token } : {}),
    ...(s.outcome !== undefined ? { outcome: s.outcome } : {}), ...(s.actual !== undefined ? { actual: s.actual } : {}),
  };
}

export class DecisionLog {
  /** Decisions recorded (not dry runs), by kind. */
  readonly byKind = new Map<LeaderDecisionKind, number>();
  private readonly before;

  constructor(private readonly store: LeaderStore, db: Db, private readonly events: EventEmitter<LeaderEvents>, private readonly log: Logger) {
    this.before = db.prepare('SELECT id FROM decisions WHERE id < ? ORDER BY id DESC LIMIT ?');
  }

  /** Journals `d` (with the term's token and, when known, its outcome) and announces it. */
  record(at: number, d: LeaderDecision, token: number | undefined, outcome?: string): DecisionView {
    const fencingToken = token !== undefined ? String(token) : undefined;
    const id = this.store.recordDecision(at, d, fencingToken);
    if (outcome !== undefined) this.store.recordOutcome(id, outcome);
    bump(this.byKind, d.kind);
    // Built from what was stored, not read back (a split journals thousands at once).
    const view = decisionView({ id, at, decision: d, ...(fencingToken !== undefined ? { fencingToken } : {}), ...(outcome !== undefined ? { outcome } : {}) });
    this.log.info({ event: 'leader.decision', id, kind: d.kind, target: d.target, value: d.value, from: d.from, to: d.to, policy: d.policy, reason: d.reason, predicted: d.predicted, outcome }, d.reason.text);
    this.events.emit('decision', view);
    return view;
  }

  /** The outcome of decision `id` and what was measured (e.g. power after a migration). */
  outcome(id: number, outcome: string, at: number, actual?: Readonly<Record<string, unknown>>): void {
    this.store.recordOutcome(id, outcome, actual, at);
    const view = this.view(id);
    if (!view) return;
    this.log.info({ event: 'leader.outcome', id, kind: view.kind, target: view.target, outcome, actual }, `decision ${id}: ${outcome}`);
    this.events.emit('decision', view);
  }

  view(id: number): DecisionView | undefined {
    const s = this.store.decision(id);
    return s ? decisionView(s) : undefined;
  }

  /** Newest first is how operators read; the API returns newest last (like the store). */
  list(q: { limit: number; before?: number }): DecisionView[] {
    const limit = Math.max(0, Math.min(10_000, Math.floor(q.limit)));
    if (q.before === undefined) return this.store.decisions(limit).map(decisionView);
    const ids = (this.before.all(q.before, limit) as { id: number }[]).map((r) => r.id).reverse();
    return ids.map((id) => this.view(id)).filter((v): v is DecisionView => v !== undefined);
  }
}

/** A decision as it would be journaled, for dry runs (id 0, nothing stored). */
export function dryRunView(at: number, d: LeaderDecision, token: number | undefined): DecisionView {
  return decisionView({ id: 0, at, decision: d, ...(token !== undefined ? { fencingToken: String(token) } : {}), outcome: 'dry-run' });
}
