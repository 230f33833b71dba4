// A byte stream over xenstore nodes (docs/xen.md, "Ring"): each direction is a directory with
// R slot nodes "0".."R-1" (each <= chunkBytes), a producer counter "prod" written by the sender,
// a consumer counter "cons" written by the receiver, and "closed" written by the sender at end.
// The sender writes slots [prod, prod+n) mod R (only while prod - cons < R: flow control), waits
// for the OKs, then advances prod. The receiver watches prod, reads the new slots, hands them to
// the reader, then advances cons, which wakes the sender through its watch on cons.
// Counters are decimal integers. Everything the peer wrote is validated; a violation destroys
// the stream with a ProtocolViolation error and is counted.
import { Duplex } from 'node:stream';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import type { XenstoreClient } from '../../adapters/xen/client.js';
import { isErrno } from '../../adapters/xen/errors.js';

/** Slots per direction. */
export const DEFAULT_SLOTS = 16;
/**
 * Bytes per slot: path + value must fit the 4096-byte payload, and xenstored's per-node size
 * quota (2048 bytes by default, counting permissions and metadata too) must hold the node.
 */
export const DEFAULT_CHUNK_BYTES = 1024;

export interface RingOptions {
  /** Slots per direction (default DEFAULT_SLOTS). Both ends must agree. */
  slots?: number;
  /** Bytes per slot (default DEFAULT_CHUNK_BYTES). The receiver refuses larger slots. */
  chunkBytes?: number;
}

export interface RingStats {
  chunksIn: number;
  chunksOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Peer-written values that broke the ring's rules (each also destroys the stream). */
  violations: number;
}

export const newRingStats = (): RingStats => ({ chunksIn: 0, chunksOut: 0, bytesIn: 0, bytesOut: 0, violations: 0 });

interface QueuedWrite { buf: Buffer; cb: (err?: Error | null) => void }

let tokenSeq = 0;

/** One end of a ring pair at `dir` (e.g. /local/domain/5/vmanage/c3): writes `txName`, reads `rxName`. */
export class XenstoreRingStream extends Duplex {
  readonly stats: RingStats;
  private readonly slots: number;
  private readonly chunkBytes: number;
  private readonly queue: QueuedWrite[] = [];
  private txProd = 0;
  /** The peer's cons as last read: it only grows, so free space is at least slots - (txProd - txCons). */
  private txCons = 0;
  private rxCons = 0;
  private readonly pumps = { tx: { running: false, again: false }, rx: { running: false, again: false } };
  private wantRead = true;
  /** The peer closed its side and we delivered end of stream: it may send nothing more. */
  private rxEnded = false;
  private readonly watches: [string, string][] = [];
  private flushWaiters: (() => void)[] = [];

  constructor(
    private readonly xs: XenstoreClient,
    private readonly dir: string,
    private readonly txName: string,
    private readonly rxName: string,
    opts: RingOptions = {},
    stats: RingStats = newRingStats(),
  ) {
    super({ allowHalfOpen: true });
    this.slots = opts.slots ?? DEFAULT_SLOTS;
    this.chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    this.stats = stats;
  }

  /** Sets the watches; resolves once they are registered (their initial fire pumps both ways). */
  async start(): Promise<void> {
    const id = `vmanage-ring-${++tokenSeq}`;
    const set = async (path: string, suffix: string, fn: () => void): Promise<void> => {
      const token = `${id}-${suffix}`;
      this.watches.push([path, token]);
      await this.xs.watch(path, token, fn);
    };
    await set(this.node(this.rxName, 'prod'), 'rx', () => this.kick('rx'));
    await set(this.node(this.rxName, 'closed'), 'rxc', () => this.kick('rx'));
    await set(this.node(this.txName, 'cons'), 'tx', () => this.kick('tx'));
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.queue.push({ buf: chunk, cb });
    this.kick('tx');
  }

  override _read(): void {
    this.wantRead = true;
    this.kick('rx');
  }

  override _final(cb: (err?: Error | null) => void): void {
    const finish = (): void => {
      this.markClosed().then(() => cb(), (err: Error) => cb(err));
    };
    if (this.queue.length === 0) finish();
    else this.flushWaiters.push(finish);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    for (const q of this.queue.splice(0)) q.cb(err ?? new VmanageError(ErrorCodes.ChannelClosed, `xenstore ring ${this.dir} closed`));
    for (const [path, token] of this.watches.splice(0)) this.xs.unwatch(path, token).catch(() => undefined);
    if (!this.xs.closed) this.markClosed().catch(() => undefined);
    cb(err);
  }

  /** Writes our "closed" flag, unless the ring is gone (a WRITE would create it again). */
  private async markClosed(): Promise<void> {
    await this.xs.transaction(async (tx) => {
      if (await this.xs.tryRead(this.node(this.txName, 'prod'), tx) === undefined) return;
      await this.xs.write(this.node(this.txName, 'closed'), '1', tx);
    });
  }

  private node(dirName: string, leaf: string | number): string {
    return `${this.dir}/${dirName}/${leaf}`;
  }

  /** Runs the tx or rx pump, at most one at a time per direction; a kick during a run reruns it. */
  private kick(which: 'tx' | 'rx'): void {
    const p = this.pumps[which];
    if (this.destroyed) return;
    if (p.running) { p.again = true; return; }
    p.running = true;
    const loop = async (): Promise<void> => {
      do {
        p.again = false;
        await (which === 'tx' ? this.pumpTx() : this.pumpRx());
      } while (p.again && !this.destroyed);
    };
    loop().catch((err: unknown) => this.fail(err)).finally(() => { p.running = false; });
  }

  private fail(err: unknown): void {
    if (this.destroyed) return;
    // The ring's directory went away: the other end started a new connection or left.
    if (isErrno(err, 'ENOENT') || (err instanceof VmanageError && err.code === ErrorCodes.ChannelClosed)) {
      this.destroy();
      return;
    }
    if (err instanceof VmanageError && err.code === ErrorCodes.ProtocolViolation) this.stats.violations++;
    this.destroy(err instanceof Error ? err : new Error(String(err)));
  }

  private violation(what: string, value: string): VmanageError {
    return new VmanageError(ErrorCodes.ProtocolViolation, `xenstore ring ${this.dir}: ${what} (got ${JSON.stringify(value.slice(0, 40))})`, { dir: this.dir, value: value.slice(0, 40) });
  }

  private async readCounter(path: string, min: number, max: number): Promise<number> {
    const raw = (await this.xs.read(path)).toString('latin1');
    if (!/^\d{1,15}$/.test(raw)) throw this.violation(`${path} must be a decimal counter`, raw);
    const n = Number(raw);
    if (n < min || n > max) throw this.violation(`${path} must be within [${min}, ${max}]`, raw);
    return n;
  }

  private async pumpTx(): Promise<void> {
    while (this.queue.length > 0 && !this.destroyed) {
      // Read the peer's cons only when the ring looks full by what we last saw (saves a round trip).
      let free = this.slots - (this.txProd - this.txCons);
      if (free === 0) {
        this.txCons = await this.readCounter(this.node(this.txName, 'cons'), this.txCons, this.txProd);
        free = this.slots - (this.txProd - this.txCons);
        if (free === 0) return; // the cons watch kicks us when the reader catches up
      }
      const chunks = this.takeChunks(free);
      await Promise.all(chunks.map((c, i) => this.xs.write(this.node(this.txName, (this.txProd + i) % this.slots), c.buf)));
      this.txProd += chunks.length;
      await this.xs.write(this.node(this.txName, 'prod'), String(this.txProd));
      this.stats.chunksOut += chunks.length;
      for (const c of chunks) {
        this.stats.bytesOut += c.buf.length;
        c.done?.();
      }
    }
    if (this.queue.length === 0) for (const w of this.flushWaiters.splice(0)) w();
  }

  /** Up to n chunks of <= chunkBytes from the head of the queue; `done` completes a queued write. */
  private takeChunks(n: number): { buf: Buffer; done?: () => void }[] {
    const out: { buf: Buffer; done?: () => void }[] = [];
    while (out.length < n && this.queue.length > 0) {
      const head = this.queue[0]!;
      if (head.buf.length <= this.chunkBytes) {
        this.queue.shift();
        out.push({ buf: head.buf, done: () => head.cb() });
      } else {
        out.push({ buf: head.buf.subarray(0, this.chunkBytes) });
        head.buf = head.buf.subarray(this.chunkBytes);
      }
    }
    return out;
  }

  private async pumpRx(): Promise<void> {
    if (!this.wantRead) return;
    if (this.rxEnded) {
      const raw = (await this.xs.read(this.node(this.rxName, 'prod'))).toString('latin1');
      if (raw !== String(this.rxCons)) throw this.violation(`${this.rxName}/prod moved after the peer closed its side`, raw);
      return;
    }
    const prod = await this.readCounter(this.node(this.rxName, 'prod'), this.rxCons, this.rxCons + this.slots);
    if (prod === this.rxCons) {
      const closed = await this.xs.tryRead(this.node(this.rxName, 'closed'));
      if (closed?.toString() === '1') {
        this.rxEnded = true;
        this.push(null);
      }
      return;
    }
    const idx = Array.from({ length: prod - this.rxCons }, (_, i) => (this.rxCons + i) % this.slots);
    const bufs = await Promise.all(idx.map((i) => this.xs.read(this.node(this.rxName, i))));
    for (const b of bufs) {
      if (b.length === 0 || b.length > this.chunkBytes) throw this.violation(`a slot must hold 1..${this.chunkBytes} bytes`, String(b.length));
    }
    if (this.destroyed) return;
    this.rxCons = prod;
    await this.xs.write(this.node(this.rxName, 'cons'), String(this.rxCons));
    for (const b of bufs) {
      this.stats.chunksIn++;
      this.stats.bytesIn += b.length;
      if (!this.push(b)) this.wantRead = false;
    }
    if (this.wantRead) this.pumps.rx.again = true;
  }
}
