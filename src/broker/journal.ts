// The decision journal: every decision with its inputs, reason and predicted effect, its outcome
// (applied, refused with the refusal, dry-run), and later the effect observed one control period
// after. The interface is small so a SQLite journal can implement it; MemoryJournal is bounded.
import type { Decision } from '../domain/model.js';
import type { Refusal } from './actuator.js';

export type Outcome = 'applied' | 'refused' | 'overruled';

export interface ObservedEffect {
  /** When it was observed, ms since epoch. */
  readonly at: number;
  /** Host power then, W. */
  readonly watts?: number;
  /** The knob's value then (same unit as the decision's value). */
  readonly value?: number;
}

export interface JournalEntry {
  readonly id: number;
  /** When decided, ms since epoch. */
  readonly at: number;
  readonly host: string;
  readonly decision: Decision;
  readonly outcome: Outcome;
  /** Backend that carried it out ("dry-run" for the dry-run backend). */
  readonly backend?: string;
  readonly refusal?: Refusal;
  readonly observed?: ObservedEffect;
}

export interface DecisionJournal {
  /** Stores a decision and its outcome; returns its id. */
  append(entry: Omit<JournalEntry, 'id' | 'observed'>): number;
  /** Adds the observed effect to an entry; unknown (evicted) ids are ignored. */
  observe(id: number, observed: ObservedEffect): void;
  /** The newest entries, newest last. */
  recent(limit: number): JournalEntry[];
}

export class MemoryJournal implements DecisionJournal {
  private readonly entries: JournalEntry[] = [];
  private nextId = 1;

  /** capacity: entries kept; older ones are dropped first. */
  constructor(private readonly capacity = 10_000) {}

  append(entry: Omit<JournalEntry, 'id' | 'observed'>): number {
    const id = this.nextId++;
    this.entries.push({ ...entry, id });
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
    return id;
  }

  observe(id: number, observed: ObservedEffect): void {
    const first = this.entries[0];
    if (!first) return;
    const i = id - first.id;
    const e = this.entries[i];
    if (e && e.id === id) this.entries[i] = { ...e, observed };
  }

  recent(limit: number): JournalEntry[] {
    return this.entries.slice(Math.max(0, this.entries.length - limit));
  }

  get size(): number {
    return this.entries.length;
  }
}
