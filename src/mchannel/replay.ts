// The bounded replay buffer: outgoing messages not yet acknowledged by the peer, in seq order.
// Bounded by count AND bytes (payload bytes, UTF-8). A full buffer makes send() wait
// (backpressure) unless the channel was configured to evict the oldest entry; an evicted or
// already-acknowledged message can never be re-sent, and a peer that asks for one learns how many
// it lost (REPLAY_BUFFER_EXCEEDED), never a silent gap.

export interface ReplayEntry {
  readonly seq: number;
  /** The message's encoded fields after the ack: `"k":"kind","b":{...}` (+ `,"q":N` / `,"p":N`). */
  readonly payload: string;
  /** UTF-8 size of payload in bytes. */
  readonly bytes: number;
}

export interface ReplayLimits {
  /** Most messages held (default 1024). */
  maxCount: number;
  /** Most payload bytes held (default 1 MiB). */
  maxBytes: number;
}

export const DEFAULT_REPLAY_LIMITS: ReplayLimits = { maxCount: 1024, maxBytes: 1024 * 1024 };

export class ReplayBuffer {
  readonly limits: ReplayLimits;
  private items: ReplayEntry[] = [];
  private head = 0;
  private totalBytes = 0;

  constructor(limits: ReplayLimits = DEFAULT_REPLAY_LIMITS) {
    this.limits = limits;
  }

  get count(): number {
    return this.items.length - this.head;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** True when an entry of `bytes` bytes does not fit now (an empty buffer always accepts one). */
  wouldOverflow(bytes: number): boolean {
    if (this.count === 0) return false;
    return this.count + 1 > this.limits.maxCount || this.totalBytes + bytes > this.limits.maxBytes;
  }

  push(entry: ReplayEntry): void {
    this.items.push(entry);
    this.totalBytes += entry.bytes;
  }

  /** Seq of the oldest held entry, or undefined when empty. */
  firstSeq(): number | undefined {
    return this.items[this.head]?.seq;
  }

  /** Drops every entry with seq <= ack; returns how many were dropped. */
  release(ack: number): number {
    let n = 0;
    while (this.head < this.items.length) {
      const e = this.items[this.head] as ReplayEntry;
      if (e.seq > ack) break;
      this.totalBytes -= e.bytes;
      this.head++;
      n++;
    }
    this.compact();
    return n;
  }

  /** Drops the oldest entry (eviction mode); returns it. */
  evictOldest(): ReplayEntry | undefined {
    const e = this.items[this.head];
    if (!e) return undefined;
    this.head++;
    this.totalBytes -= e.bytes;
    this.compact();
    return e;
  }

  /** Entries with seq > after, oldest first. */
  *after(after: number): IterableIterator<ReplayEntry> {
    for (let i = this.head; i < this.items.length; i++) {
      const e = this.items[i] as ReplayEntry;
      if (e.seq > after) yield e;
    }
  }

  clear(): void {
    this.items = [];
    this.head = 0;
    this.totalBytes = 0;
  }

  toJSON(): { seq: number; payload: string }[] {
    return this.items.slice(this.head).map((e) => ({ seq: e.seq, payload: e.payload }));
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
