// A typed event bus keyed by owner (docs: STYLE 7). Every listener belongs to an owner (a module
// name); removeOwner(owner) drops all of that module's listeners at once when it stops. A listener
// that throws or rejects is logged and counted and never stops the others or the emitter.
import type { Logger } from 'pino';

export type Listener<T> = (payload: T) => void | Promise<void>;

interface Entry {
  readonly owner: string;
  readonly fn: Listener<never>;
}

export class EventBus<E extends { [K in keyof E]: unknown }> {
  private readonly listeners = new Map<keyof E, Entry[]>();
  private failureCount = 0;

  constructor(private readonly logger: Logger) {}

  /** Listener failures so far (for a prom-client counter). */
  get failures(): number {
    return this.failureCount;
  }

  /** Subscribes; returns a function that removes just this listener. */
  on<K extends keyof E>(owner: string, event: K, fn: Listener<E[K]>): () => void {
    const entry: Entry = { owner, fn: fn as Listener<never> };
    const list = this.listeners.get(event) ?? [];
    this.listeners.set(event, [...list, entry]);
    return () => {
      const now = this.listeners.get(event) ?? [];
      this.listeners.set(event, now.filter((e) => e !== entry));
    };
  }

  /** Calls every listener of the event in subscription order, synchronously; never throws. */
  emit<K extends keyof E>(event: K, payload: E[K]): void {
    const list = this.listeners.get(event);
    if (!list) return;
    for (const entry of list) {
      try {
        const r = (entry.fn as Listener<E[K]>)(payload);
        if (r && typeof (r as Promise<void>).then === 'function') {
          (r as Promise<void>).catch((err: unknown) => this.failed(entry.owner, event, err));
        }
      } catch (err) {
        this.failed(entry.owner, event, err);
      }
    }
  }

  /** Removes every listener the owner registered; returns how many. */
  removeOwner(owner: string): number {
    let removed = 0;
    for (const [event, list] of this.listeners) {
      const kept = list.filter((e) => e.owner !== owner);
      removed += list.length - kept.length;
      if (kept.length > 0) this.listeners.set(event, kept);
      else this.listeners.delete(event);
    }
    return removed;
  }

  listenerCount(event?: keyof E): number {
    if (event !== undefined) return this.listeners.get(event)?.length ?? 0;
    let n = 0;
    for (const list of this.listeners.values()) n += list.length;
    return n;
  }

  private failed(owner: string, event: keyof E, err: unknown): void {
    this.failureCount++;
    this.logger.error({ owner, event: String(event), err }, 'event listener failed');
  }
}
