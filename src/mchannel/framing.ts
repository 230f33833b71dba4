// NDJSON framing: one JSON value per line, UTF-8, at most maxFrameBytes bytes per line (newline
// excluded). Bytes in, parsed values out. Bad input is never fatal here: it is counted, reported
// through onBad, and the decoder resynchronises at the next newline. The decoder never holds more
// than maxFrameBytes of an unfinished line, whatever the peer sends.
import { isUtf8 } from 'node:buffer';
import { ErrorCodes, VmanageError } from '../domain/errors.js';

export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024;
export const DEFAULT_MAX_DEPTH = 32;

/** Kinds of bad input the decoder recognises (each has its own counter). */
export type BadFrameKind = 'tooLong' | 'invalidUtf8' | 'invalidJson' | 'tooDeep' | 'truncated';

export interface DecoderCounters {
  frames: number;
  bytes: number;
  tooLong: number;
  invalidUtf8: number;
  invalidJson: number;
  tooDeep: number;
  truncated: number;
}

export interface DecoderOptions {
  /** Longest accepted line in bytes, without its newline (default 64 KiB). */
  maxFrameBytes?: number;
  /** Deepest accepted nesting of arrays/objects (default 32). */
  maxDepth?: number;
  /** Called once per good frame with the parsed value and its size in bytes. */
  onFrame(value: unknown, bytes: number): void;
  /** Called once per bad frame; detail says what was wrong, for logs and error replies. */
  onBad(kind: BadFrameKind, detail: string): void;
  /** Counters to increment (shared across a channel's successive connections); default: own. */
  counters?: DecoderCounters;
}

export function newDecoderCounters(): DecoderCounters {
  return { frames: 0, bytes: 0, tooLong: 0, invalidUtf8: 0, invalidJson: 0, tooDeep: 0, truncated: 0 };
}

const NL = 0x0a;
const CR = 0x0d;

export class FrameDecoder {
  /** Counters incremented by this decoder (replaceable: a connection can change owner). */
  counters: DecoderCounters;
  private readonly max: number;
  private readonly maxDepth: number;
  private readonly opts: DecoderOptions;
  /** Pieces of the unfinished line; their total length is pendingLen <= max. */
  private pending: Buffer[] = [];
  private pendingLen = 0;
  /** True while discarding the rest of an over-long line up to its newline. */
  private skipping = false;
  /** Lines of the current chunk ending at or before this offset are known valid UTF-8. */
  private verifiedEnd = -1;

  constructor(opts: DecoderOptions) {
    this.opts = opts;
    this.counters = opts.counters ?? newDecoderCounters();
    this.max = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  }

  /** Bytes of an unfinished line currently held (always <= maxFrameBytes). */
  get buffered(): number {
    return this.pendingLen;
  }

  push(chunk: Buffer): void {
    let start = 0;
    const len = chunk.length;
    // One native UTF-8 check for all whole lines of the chunk instead of one per line; if it
    // fails (e.g. a character split across chunks), lines are checked one by one.
    const lastNl = chunk.lastIndexOf(NL);
    this.verifiedEnd = lastNl > 0 && isUtf8(chunk.subarray(0, lastNl)) ? lastNl : -1;
    while (start < len) {
      const nl = chunk.indexOf(NL, start);
      if (nl === -1) {
        this.hold(chunk, start, len);
        return;
      }
      if (this.skipping) {
        this.skipping = false;
      } else if (this.pendingLen === 0) {
        this.line(chunk, start, nl, nl <= this.verifiedEnd);
      } else if (this.pendingLen + (nl - start) > this.max) {
        this.dropPending();
        this.bad('tooLong', `line longer than ${this.max} bytes`);
      } else {
        this.pending.push(chunk.subarray(start, nl));
        const whole = Buffer.concat(this.pending, this.pendingLen + (nl - start));
        this.dropPending();
        this.line(whole, 0, whole.length, false);
      }
      start = nl + 1;
    }
  }

  /** The stream ended: an unfinished line is reported as truncated. */
  end(): void {
    if (this.pendingLen > 0) this.bad('truncated', `stream ended inside a ${this.pendingLen}-byte line`);
    this.dropPending();
    this.skipping = false;
  }

  private hold(chunk: Buffer, start: number, end: number): void {
    if (this.skipping) return;
    const n = end - start;
    if (this.pendingLen + n > this.max) {
      this.dropPending();
      this.skipping = true;
      this.bad('tooLong', `line longer than ${this.max} bytes`);
      return;
    }
    // Copy: the caller may reuse its chunk, and a small copy stops us pinning a large one.
    this.pending.push(Buffer.from(chunk.subarray(start, end)));
    this.pendingLen += n;
  }

  private dropPending(): void {
    this.pending = [];
    this.pendingLen = 0;
  }

  private line(buf: Buffer, start: number, end: number, utf8Known: boolean): void {
    if (end > start && buf[end - 1] === CR) end--;
    const n = end - start;
    if (n === 0) return; // blank lines are keep-alives for hand-written peers: ignored
    if (n > this.max) {
      this.bad('tooLong', `line longer than ${this.max} bytes`);
      return;
    }
    const bytes = buf.subarray(start, end);
    if (!utf8Known && !isUtf8(bytes)) {
      this.bad('invalidUtf8', 'line is not valid UTF-8');
      return;
    }
    if (exceedsDepth(bytes, this.maxDepth)) {
      this.bad('tooDeep', `nesting deeper than ${this.maxDepth}`);
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      this.bad('invalidJson', `not JSON: ${(err as Error).message.slice(0, 120)}`);
      return;
    }
    this.counters.frames++;
    this.counters.bytes += n;
    this.opts.onFrame(value, n);
  }

  private bad(kind: BadFrameKind, detail: string): void {
    this.counters[kind]++;
    this.opts.onBad(kind, detail);
  }
}

const OPEN_ARR = 0x5b;
const OPEN_OBJ = 0x7b;
const CLOSE_ARR = 0x5d;
const CLOSE_OBJ = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * True when the JSON text nests arrays/objects deeper than maxDepth. Cheap for ordinary frames:
 * a line with at most maxDepth opening brackets (counted natively) cannot be too deep, so only
 * bracket-heavy lines get the string-aware scan.
 */
export function exceedsDepth(bytes: Buffer, maxDepth: number): boolean {
  let opens = 0;
  for (let i = bytes.indexOf(OPEN_OBJ); i !== -1 && opens <= maxDepth; i = bytes.indexOf(OPEN_OBJ, i + 1)) opens++;
  for (let i = bytes.indexOf(OPEN_ARR); i !== -1 && opens <= maxDepth; i = bytes.indexOf(OPEN_ARR, i + 1)) opens++;
  if (opens <= maxDepth) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_ARR || c === OPEN_OBJ) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_ARR || c === CLOSE_OBJ) {
      depth--;
    }
  }
  return false;
}

/** One frame as it goes on the wire: JSON text plus newline. Throws FRAME_TOO_LARGE past the limit. */
export function encodeFrame(value: unknown, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): string {
  const text = JSON.stringify(value);
  checkFrameSize(text, maxFrameBytes);
  return `${text}\n`;
}

/** Throws FRAME_TOO_LARGE when text (one frame without newline) exceeds maxFrameBytes. */
export function checkFrameSize(text: string, maxFrameBytes: number): number {
  // A UTF-8 byte is at least one UTF-16 unit and at most three: skip byteLength when safe.
  if (text.length * 3 <= maxFrameBytes) return -1;
  const n = Buffer.byteLength(text);
  if (n > maxFrameBytes) {
    throw new VmanageError(ErrorCodes.FrameTooLarge, `frame of ${n} bytes exceeds the ${maxFrameBytes}-byte limit`, { bytes: n, maxFrameBytes });
  }
  return n;
}
