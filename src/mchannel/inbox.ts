// Incoming notifications waiting for the application, consumed by async iteration. The Channel
// pauses reading from the connection when the inbox is full (receive-side backpressure) and
// resumes when the application has taken half of it, so memory stays bounded.

export interface Incoming {
  readonly kind: string;
  readonly body: unknown;
  readonly seq: number;
  /** True when the message arrived before the handshake on its connection (e.g. a line QEMU held
   *  while no host was connected, delivered after a migration): it may be old news. */
  readonly stale: boolean;
}

export class Inbox implements AsyncIterable<Incoming> {
  private items: Incoming[] = [];
  private head = 0;
  private waiter: ((r: IteratorResult<Incoming>) => void) | undefined;
  private ended = false;
  private readonly onTake: () => void;

  /** onTake runs after the application took an item (the Channel may resume reading then). */
  constructor(onTake: () => void) {
    this.onTake = onTake;
  }

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: Incoming): void {
    if (this.ended) return;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w({ value: item, done: false });
      return;
    }
    this.items.push(item);
  }

  /** No more items: pending and future iteration ends after the held items. */
  end(): void {
    this.ended = true;
    const w = this.waiter;
    this.waiter = undefined;
    w?.({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<Incoming>> {
    if (this.head < this.items.length) {
      const value = this.items[this.head++] as Incoming;
      if (this.head === this.items.length) {
        this.items = [];
        this.head = 0;
      } else if (this.head >= 1024) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      this.onTake();
      return Promise.resolve({ value, done: false });
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    if (this.waiter) return Promise.reject(new Error('only one consumer may iterate a channel at a time'));
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<Incoming> {
    return {
      next: () => this.next(),
      return: () => Promise.resolve({ value: undefined, done: true }),
    };
  }
}
