// Session states handed over by other host daemons, waiting for their VM (or VMs waiting for
// their state). Bounded: at most maxEntries states, each kept ttlMs; a newer state for the same
// VM replaces an older one. Input crossed hosts, so the caller validates it before put().
import type { Clock, TimerHandle } from '../../domain/clock.js';
import type { SessionState } from '../../mchannel/state.js';

export interface HandedOverState {
  readonly state: SessionState;
  /** Host daemon that sent it (its transport identity). */
  readonly from: string;
  /** When it arrived here, ms since epoch. */
  readonly at: number;
}

interface Waiter { resolve(s: HandedOverState | undefined): void; timer: TimerHandle }

export class HandoverStore {
  readonly counters = { received: 0, used: 0, expired: 0, evicted: 0, waitTimeouts: 0 };
  private readonly states = new Map<string, HandedOverState>();
  private readonly waiters = new Map<string, Waiter>();

  constructor(private readonly clock: Clock, private readonly ttlMs = 120_000, private readonly maxEntries = 1024) {}

  /** Stores a state for vm (or hands it to the VM already waiting for it). */
  put(vm: string, state: SessionState, from: string): void {
    this.counters.received++;
    const entry = { state, from, at: this.clock.now() };
    const w = this.waiters.get(vm);
    if (w) {
      this.waiters.delete(vm);
      w.timer.cancel();
      this.counters.used++;
      w.resolve(entry);
      return;
    }
    this.prune();
    this.states.delete(vm);
    if (this.states.size >= this.maxEntries) {
      const oldest = this.states.keys().next().value;
      if (oldest !== undefined) this.states.delete(oldest);
      this.counters.evicted++;
    }
    this.states.set(vm, entry);
  }

  /** Takes the state for vm if one arrived within ttlMs. */
  take(vm: string): HandedOverState | undefined {
    this.prune();
    const s = this.states.get(vm);
    if (s) {
      this.states.delete(vm);
      this.counters.used++;
    }
    return s;
  }

  /** The state for vm, waiting up to timeoutMs for it to arrive; undefined on timeout. */
  wait(vm: string, timeoutMs: number): Promise<HandedOverState | undefined> {
    const have = this.take(vm);
    if (have) return Promise.resolve(have);
    this.cancel(vm);
    return new Promise((resolve) => {
      const timer = this.clock.setTimer(timeoutMs, () => {
        if (this.waiters.get(vm)?.timer !== timer) return;
        this.waiters.delete(vm);
        this.counters.waitTimeouts++;
        resolve(undefined);
      });
      this.waiters.set(vm, { resolve, timer });
    });
  }

  /** Stops waiting for vm (the VM went away): the waiter resolves undefined. */
  cancel(vm: string): void {
    const w = this.waiters.get(vm);
    if (!w) return;
    this.waiters.delete(vm);
    w.timer.cancel();
    w.resolve(undefined);
  }

  /** Whether a (not yet expired) state for vm is held. */
  has(vm: string): boolean {
    this.prune();
    return this.states.has(vm);
  }

  isWaiting(vm: string): boolean {
    return this.waiters.has(vm);
  }

  get size(): number {
    return this.states.size;
  }

  private prune(): void {
    const limit = this.clock.now() - this.ttlMs;
    for (const [vm, s] of this.states) {
      if (s.at >= limit) break;
      this.states.delete(vm);
      this.counters.expired++;
    }
  }
}
