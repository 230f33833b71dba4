// One Connection attached to a session: decodes frames, batches writes, sends heartbeats, detects
// a dead peer, enforces the error budget and bounds what it buffers for a peer that stops reading.
// A Link never reconnects; when it closes, its owner (the Channel) decides what happens next.
import type { Clock, TimerHandle } from '../domain/clock.js';
import { ErrorCodes, VmanageError } from '../domain/errors.js';
import type { ChannelCounters } from './counters.js';
import { FrameDecoder } from './framing.js';
import type { Connection } from './types.js';
import { controlLine, parseFrame, type Frame } from './wire.js';

export interface LinkOptions {
  clock: Clock;
  counters: ChannelCounters;
  maxFrameBytes: number;
  maxDepth: number;
  /** Consecutive bad frames after which the connection is closed (PROTOCOL_VIOLATION). */
  errorBudget: number;
  /** A heartbeat is sent when nothing else was written for this long (ms). */
  heartbeatMs: number;
  /** The connection is dropped (PEER_DEAD) when nothing was received for this long (ms). */
  deadAfterMs: number;
  /** The same before the handshake completed (ms; default deadAfterMs). */
  handshakeDeadMs?: number;
  /** Bytes the stream may hold unwritten before the peer counts as not reading (WRITE overflow). */
  maxWriteBufferBytes: number;
}

export interface LinkOwner {
  onFrame(link: Link, frame: Frame): void;
  /** A bad frame was skipped (already counted); detail says why. */
  onBadFrame(link: Link, detail: string): void;
  onClosed(link: Link, error: VmanageError | undefined): void;
  /** Current cumulative ack, carried by heartbeats. */
  currentAck(): number;
}

const HELLO_BURST = 8;
const HELLO_WINDOW_MS = 10_000;

/** Writes are gathered and handed to the stream once per event-loop turn or at this size. */
const FLUSH_AT_CHARS = 16 * 1024;

export class Link {
  readonly conn: Connection;
  /** True once the peer's hello arrived on this connection. */
  handshaken = false;
  /** True once we sent our hello on this connection. */
  helloSent = false;
  /** Nonce of our last hello (re=false) on this connection: the peer's answer echoes it. */
  helloNonce: string | undefined;
  /** True once we answered a hello for another session with ours (done at most once). */
  foreignHelloAnswered = false;
  /** When the last HELLO_BURST hellos arrived (ms): each hello makes us resend our replay
   *  buffer, so a peer that repeats hellos faster than that is cut off, not amplified. */
  private helloTimes: number[] = [];
  closed = false;
  private owner: LinkOwner;
  private counters: ChannelCounters;
  private readonly opts: LinkOptions;
  private readonly decoder: FrameDecoder;
  private out = '';
  private flushScheduled = false;
  private badInARow = 0;
  private lastReceived: number;
  private lastWritten: number;
  private tick: TimerHandle | undefined;
  private paused = false;
  private readonly onData = (chunk: Buffer | string): void => this.receive(chunk);
  private readonly onEnd = (): void => this.close(new VmanageError(ErrorCodes.ChannelClosed, 'peer closed the connection'));
  private readonly onError = (err: Error): void => this.close(new VmanageError(ErrorCodes.Unavailable, `connection error: ${err.message}`, {}, { cause: err }));
  private readonly onStreamClose = (): void => this.close(new VmanageError(ErrorCodes.ChannelClosed, 'connection closed'));

  constructor(conn: Connection, opts: LinkOptions, owner: LinkOwner) {
    this.conn = conn;
    this.opts = opts;
    this.owner = owner;
    this.counters = opts.counters;
    this.lastReceived = opts.clock.now();
    this.lastWritten = this.lastReceived;
    this.decoder = new FrameDecoder({
      maxFrameBytes: opts.maxFrameBytes,
      maxDepth: opts.maxDepth,
      counters: this.counters,
      onFrame: (v) => this.frame(v),
      onBad: (_kind, detail) => this.bad(detail),
    });
    const s = conn.stream;
    s.on('data', this.onData);
    s.on('end', this.onEnd);
    s.on('error', this.onError);
    s.on('close', this.onStreamClose);
    this.schedule();
  }

  /**
   * Records a hello from the peer; false (and the connection closed with PROTOCOL_VIOLATION) when
   * more than HELLO_BURST arrived within HELLO_WINDOW_MS.
   */
  acceptHello(): boolean {
    const now = this.opts.clock.now();
    this.helloTimes.push(now);
    if (this.helloTimes.length <= HELLO_BURST) return true;
    const oldest = this.helloTimes.shift() as number;
    if (now - oldest >= HELLO_WINDOW_MS) return true;
    this.counters.badEnvelope++;
    const msg = `more than ${HELLO_BURST} hellos within ${HELLO_WINDOW_MS} ms`;
    this.close(new VmanageError(ErrorCodes.ProtocolViolation, msg), { code: ErrorCodes.ProtocolViolation, message: msg });
    return false;
  }

  /** Hands the link to another owner (the server passes it to the matching session). */
  setOwner(owner: LinkOwner, counters: ChannelCounters): void {
    this.owner = owner;
    this.counters = counters;
    this.decoder.counters = counters;
  }

  /** Queues one encoded line (ending in \n); written in a batch. */
  write(line: string): void {
    if (this.closed) return;
    if (!this.flushScheduled && this.out.length === 0 && this.conn.stream.writableLength === 0) {
      // Idle: the first line goes out at once (latency); lines written after it in the same
      // event-loop turn are gathered into one write (throughput).
      this.out = line;
      this.flush();
      this.flushScheduled = true;
      setImmediate(() => this.flush());
      return;
    }
    this.out += line;
    if (this.out.length >= FLUSH_AT_CHARS) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.flushScheduled = false;
    if (this.closed || this.out.length === 0) return;
    const s = this.conn.stream;
    const data = this.out;
    this.out = '';
    this.lastWritten = this.opts.clock.now();
    s.write(data);
    if (s.writableLength > this.opts.maxWriteBufferBytes) {
      this.counters.writeOverflow++;
      this.close(new VmanageError(ErrorCodes.Unavailable, `peer is not reading: ${s.writableLength} bytes unwritten`, { unwritten: s.writableLength }));
    }
  }

  /** Stops reading (receive-side backpressure); the peer's writes then back up to its replay buffer. */
  pause(): void {
    if (!this.paused && !this.closed) {
      this.paused = true;
      this.conn.stream.pause();
    }
  }

  resume(): void {
    if (this.paused && !this.closed) {
      this.paused = false;
      this.lastReceived = this.opts.clock.now(); // time paused by us is not the peer's silence
      this.conn.stream.resume();
    }
  }

  /** Closes the connection; bye (if given) is written first. Idempotent. */
  close(error?: VmanageError, bye?: { code: string; message: string }): void {
    if (this.closed) return;
    if (bye) this.out += controlLine({ t: 'bye', code: bye.code, message: bye.message.slice(0, 1024) });
    this.flush();
    this.closed = true;
    this.tick?.cancel();
    const s = this.conn.stream;
    s.off('data', this.onData);
    s.off('end', this.onEnd);
    s.off('close', this.onStreamClose);
    s.on('error', () => {}); // late errors after close are expected and harmless
    s.off('error', this.onError);
    s.end();
    s.destroy();
    this.decoder.end();
    this.owner.onClosed(this, error);
  }

  private receive(chunk: Buffer | string): void {
    this.lastReceived = this.opts.clock.now();
    this.decoder.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  }

  private frame(v: unknown): void {
    if (this.closed) return;
    const f = parseFrame(v);
    if (typeof f === 'string') {
      this.counters.badEnvelope++;
      this.bad(f);
      return;
    }
    this.badInARow = 0;
    this.owner.onFrame(this, f);
  }

  private bad(detail: string): void {
    if (this.closed) return;
    this.owner.onBadFrame(this, detail);
    if (++this.badInARow >= this.opts.errorBudget) {
      this.counters.budgetExhausted++;
      const msg = `${this.badInARow} bad frames in a row (last: ${detail})`;
      this.close(new VmanageError(ErrorCodes.ProtocolViolation, msg, { lastProblem: detail }), { code: ErrorCodes.ProtocolViolation, message: msg });
    }
  }

  private schedule(): void {
    const every = Math.max(1, Math.min(this.opts.heartbeatMs, Math.floor(this.opts.deadAfterMs / 2)));
    this.tick = this.opts.clock.setTimer(every, () => this.onTick());
  }

  private onTick(): void {
    if (this.closed) return;
    const now = this.opts.clock.now();
    if (!this.paused && now - this.lastReceived >= (this.handshaken ? this.opts.deadAfterMs : this.opts.handshakeDeadMs ?? this.opts.deadAfterMs)) {
      this.counters.peerDead++;
      this.close(new VmanageError(ErrorCodes.PeerDead, `nothing received for ${now - this.lastReceived} ms`, { silentMs: now - this.lastReceived }));
      return;
    }
    // Heartbeats only once the peer answered: before that there is nobody to keep alive, and on a
    // virtio-serial port they would pile up in QEMU's buffer for the next host to read.
    if (this.handshaken && now - this.lastWritten >= this.opts.heartbeatMs) {
      this.write(controlLine({ t: 'hb', a: this.owner.currentAck() }));
    }
    this.schedule();
  }
}
