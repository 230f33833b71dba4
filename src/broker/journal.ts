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

/** A ring of the newest `capacity` entries: O(1) append and observe. */
export class MemoryJournal implements DecisionJournal {
  private readonly ring: (JournalEntry | undefined)[];
  private start = 0;
  private count = 0;
  private nextId = 1;

  constructor(private readonly capacity = 10_000) {
    this.ring = new Array<JournalEntry | undefined>(capacity);
  }

  append(entry: Omit<JournalEntry, 'id' | 'observed'>): number {
    const id = this.nextId++;
    const e: JournalEntry = { ...entry, id };
    if (this.count < this.capacity) {
      this.ring[(this.start + this.count) % this.capacity] = e;
      this.count++;
    } else {
      this.ring[this.start] = e;
      this.start = (this.start + 1) % this.capacity;
    }
    return id;
  }

  observe(id: number, observed: ObservedEffect): void {
    const oldest = this.nextId - this.count;
    if (id < oldest || id >= this.nextId) return;
    const i = (this.start + (id - oldest)) % this.capacity;
    const e = this.ring[i];
    if (e && e.id === id) this.ring[i] = { ...e, observed };
  }

  recent(limit: number): JournalEntry[] {
    const n = Math.max(0, Math.min(limit, this.count));
    const out: JournalEntry[] = [];
    for (let k = this.count - n; k < this.count; k++) out.push(this.ring[(this.start + k) % this.capacity] as JournalEntry);
    return out;
  }

  get size(): number {
    return this.count;
  }
}
