// The guest end of a virtio-serial port (/dev/virtio-ports/NAME), or any character device or
// FIFO. While no host is connected to the port, writes stall or fail (EAGAIN, EPIPE, ENXIO, EIO)
// and reads return EOF or EAGAIN: none of that is fatal here. The stream retries with backoff
// (pollMinMs doubling to pollMaxMs, never a busy loop) and keeps unwritten data as backpressure.
// Only a hard error (the device vanished: ENODEV, EBADF, ENOENT...) ends the connection; the
// Channel then reopens the device with its own backoff.
import { close, constants, open, read, write } from 'node:fs';
import { Duplex } from 'node:stream';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import type { Connection, Connector } from '../types.js';

export interface ChardevOptions {
  /** Write to this path instead (a FIFO pair for tests: read `path`, write `writePath`). */
  writePath?: string;
  /** Identity of the peer (default 'host'). */
  label?: string;
  /** Retry delays while the device has nothing to read or refuses writes (ms). */
  pollMinMs?: number;
  pollMaxMs?: number;
}

/** Errors that mean "no host on the other end right now": retry later. */
const TRANSIENT = new Set(['EAGAIN', 'EWOULDBLOCK', 'EPIPE', 'ENXIO', 'EIO', 'EINTR', 'ECONNRESET']);

function openRw(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    open(path, constants.O_RDWR | constants.O_NONBLOCK | constants.O_NOCTTY, (err, fd) => (err ? reject(err) : resolve(fd)));
  });
}

class ChardevStream extends Duplex {
  private readonly rfd: number;
  private readonly wfd: number;
  private readonly minMs: number;
  private readonly maxMs: number;
  private readDelay: number;
  private writeDelay: number;
  private reading = false;
  /** fs requests in the thread pool: fds are closed only when none is left, so a request can
   *  never run on a reused descriptor number. */
  private inflight = 0;
  private closeWhenIdle: (() => void) | undefined;
  private timers = new Set<NodeJS.Timeout>();
  private readonly buf = Buffer.allocUnsafe(64 * 1024);

  constructor(rfd: number, wfd: number, minMs: number, maxMs: number) {
    super();
    this.rfd = rfd;
    this.wfd = wfd;
    this.minMs = minMs;
    this.maxMs = maxMs;
    this.readDelay = minMs;
    this.writeDelay = minMs;
  }

  override _read(): void {
    if (!this.reading) this.readOnce();
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => { this.timers.delete(t); fn(); }, ms);
    this.timers.add(t);
  }

  private readOnce(): void {
    if (this.destroyed) return;
    this.reading = true;
    this.inflight++;
    read(this.rfd, this.buf, 0, this.buf.length, null, (err, n) => {
      this.reading = false;
      if (this.settled()) return;
      if (err && !TRANSIENT.has(err.code ?? '')) {
        this.destroy(err);
        return;
      }
      if (err || n === 0) {
        // Nothing now (no host, or no data): poll again after a growing delay.
        const d = this.readDelay;
        this.readDelay = Math.min(this.maxMs, this.readDelay * 2);
        this.reading = true;
        this.later(d, () => { this.reading = false; this.readOnce(); });
        return;
      }
      this.readDelay = this.minMs;
      if (this.push(Buffer.from(this.buf.subarray(0, n)))) this.readOnce();
    });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.writeAll(chunk, 0, cb);
  }

  private writeAll(chunk: Buffer, off: number, cb: (err?: Error | null) => void): void {
    if (this.destroyed) {
      cb(new Error('chardev stream destroyed'));
      return;
    }
    this.inflight++;
    write(this.wfd, chunk, off, chunk.length - off, null, (err, n) => {
      if (this.settled()) {
        cb(new Error('chardev stream destroyed'));
        return;
      }
      if (err && !TRANSIENT.has(err.code ?? '')) {
        cb(err);
        return;
      }
      if (err) {
        const d = this.writeDelay;
        this.writeDelay = Math.min(this.maxMs, this.writeDelay * 2);
        this.later(d, () => this.writeAll(chunk, off, cb));
        return;
      }
      this.writeDelay = this.minMs;
      if (off + n < chunk.length) this.writeAll(chunk, off + n, cb);
      else cb();
    });
  }

  /** Ends one fs request; true when the stream was destroyed meanwhile (the caller stops). */
  private settled(): boolean {
    this.inflight--;
    if (!this.destroyed) return false;
    if (this.inflight === 0) this.closeWhenIdle?.();
    return true;
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.closeWhenIdle = () => {
      this.closeWhenIdle = undefined;
      close(this.rfd, () => {
        if (this.wfd !== this.rfd) close(this.wfd, () => cb(err));
        else cb(err);
      });
    };
    if (this.inflight === 0) this.closeWhenIdle();
  }
}

export function chardevConnector(path: string, opts: ChardevOptions = {}): Connector {
  const minMs = opts.pollMinMs ?? 2;
  const maxMs = opts.pollMaxMs ?? 50;
  return {
    kind: 'chardev',
    target: opts.writePath ? `${path} + ${opts.writePath}` : path,
    async connect(): Promise<Connection> {
      let rfd: number | undefined;
      try {
        rfd = await openRw(path);
        const wfd = opts.writePath ? await openRw(opts.writePath) : rfd;
        return { stream: new ChardevStream(rfd, wfd, minMs, maxMs), peer: { transport: 'chardev', id: opts.label ?? 'host', details: { path } } };
      } catch (err) {
        if (rfd !== undefined) close(rfd, () => {});
        throw new VmanageError(ErrorCodes.Unavailable, `cannot open ${path}: ${(err as Error).message}`, { path }, { cause: err });
      }
    },
  };
}
