// The xenstore wire format (xen's io/xs_wire.h and docs/misc/xenstore.txt), written from the
// public specification. Every message in either direction is a 16-byte little-endian header
// {type u32, req_id u32, tx_id u32, len u32} followed by `len` bytes of payload, len <= 4096.
// The same framing is used on the dom0 unix socket and on a guest's /dev/xen/xenbus.
//
// The decoder treats the peer as untrusted: a length over the maximum or an unknown type cannot
// be resynchronised (there is no frame marker), so it is reported as a fatal protocol error and
// the caller closes the connection; nothing is buffered beyond one header plus one payload.
import { ErrorCodes, VmanageError } from '../../domain/errors.js';

export const HEADER_BYTES = 16;
/** XENSTORE_PAYLOAD_MAX: payload bytes per message, both directions. */
export const PAYLOAD_MAX = 4096;
/** XENSTORE_ABS_PATH_MAX, in bytes. */
export const ABS_PATH_MAX = 3072;

/** Message types, numbered as in xs_wire.h. */
export const XsType = {
  Control: 0,
  Directory: 1,
  Read: 2,
  GetPerms: 3,
  Watch: 4,
  Unwatch: 5,
  TransactionStart: 6,
  TransactionEnd: 7,
  Introduce: 8,
  Release: 9,
  GetDomainPath: 10,
  Write: 11,
  Mkdir: 12,
  Rm: 13,
  SetPerms: 14,
  WatchEvent: 15,
  Error: 16,
  IsDomainIntroduced: 17,
  Resume: 18,
  SetTarget: 19,
  ResetWatches: 21,
  DirectoryPart: 22,
} as const;
export type XsTypeName = keyof typeof XsType;

const typeNames = new Map<number, XsTypeName>(
  (Object.entries(XsType) as [XsTypeName, number][]).map(([name, n]) => [n, name]),
);

export function typeName(type: number): string {
  return typeNames.get(type) ?? `UNKNOWN(${type})`;
}

/** The errno names xs_wire.h lists; xenstored sends the name as a string, not the number. */
export const XS_ERRNO_NAMES = [
  'EINVAL', 'EACCES', 'EEXIST', 'EISDIR', 'ENOENT', 'ENOMEM', 'ENOSPC', 'EIO',
  'ENOTEMPTY', 'ENOSYS', 'EROFS', 'EBUSY', 'EAGAIN', 'EISCONN', 'E2BIG', 'EPERM',
] as const;

export interface XsMessage {
  readonly type: number;
  readonly reqId: number;
  readonly txId: number;
  readonly payload: Buffer;
}

export function encodeMessage(msg: XsMessage): Buffer {
  if (msg.payload.length > PAYLOAD_MAX) {
    throw new VmanageError(ErrorCodes.FrameTooLarge, `xenstore ${typeName(msg.type)} payload is ${msg.payload.length} bytes; the maximum is ${PAYLOAD_MAX}`, { type: msg.type, bytes: msg.payload.length });
  }
  const out = Buffer.allocUnsafe(HEADER_BYTES + msg.payload.length);
  out.writeUInt32LE(msg.type >>> 0, 0);
  out.writeUInt32LE(msg.reqId >>> 0, 4);
  out.writeUInt32LE(msg.txId >>> 0, 8);
  out.writeUInt32LE(msg.payload.length, 12);
  msg.payload.copy(out, HEADER_BYTES);
  return out;
}

/** Strings each followed by a nul, then optional raw bytes (e.g. WRITE's value). */
export function payloadOf(strings: readonly string[], tail?: Buffer | string): Buffer {
  const parts: Buffer[] = strings.map((s) => Buffer.from(`${s}\0`, 'utf8'));
  if (tail !== undefined) parts.push(typeof tail === 'string' ? Buffer.from(tail, 'utf8') : tail);
  return Buffer.concat(parts);
}

/**
 * Splits a payload of nul-terminated strings ("<a>|<b>|*" in the spec's notation).
 * A final piece without its nul is kept (some replies, e.g. READ, are unterminated).
 */
export function splitNul(payload: Buffer): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < payload.length; i++) {
    if (payload[i] === 0) {
      out.push(payload.toString('utf8', start, i));
      start = i + 1;
    }
  }
  if (start < payload.length) out.push(payload.toString('utf8', start));
  return out;
}

export interface DecoderStats {
  frames: number;
  /** Fatal header errors: over-long payload or unknown type. */
  malformed: number;
}

/**
 * Incremental decoder: feed bytes in any chunking, get whole messages. Throws a
 * ProtocolViolation VmanageError on a header it cannot trust; the stream is then unusable.
 */
export class FrameDecoder {
  readonly stats: DecoderStats = { frames: 0, malformed: 0 };
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly where: string) {}

  push(chunk: Buffer): XsMessage[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: XsMessage[] = [];
    while (this.buf.length >= HEADER_BYTES) {
      const type = this.buf.readUInt32LE(0);
      const len = this.buf.readUInt32LE(12);
      if (len > PAYLOAD_MAX || !typeNames.has(type)) {
        this.stats.malformed++;
        this.buf = Buffer.alloc(0);
        const what = len > PAYLOAD_MAX ? `payload length ${len} > ${PAYLOAD_MAX}` : `unknown message type ${type}`;
        throw new VmanageError(ErrorCodes.ProtocolViolation, `xenstore peer ${this.where} sent a bad header: ${what}`, { where: this.where, type, len });
      }
      if (this.buf.length < HEADER_BYTES + len) break;
      out.push({
        type,
        reqId: this.buf.readUInt32LE(4),
        txId: this.buf.readUInt32LE(8),
        payload: Buffer.from(this.buf.subarray(HEADER_BYTES, HEADER_BYTES + len)),
      });
      this.stats.frames++;
      this.buf = this.buf.subarray(HEADER_BYTES + len);
    }
    if (this.buf.length > 0) this.buf = Buffer.from(this.buf);
    return out;
  }

  /** Bytes held waiting for the rest of a message (always <= HEADER_BYTES + PAYLOAD_MAX). */
  get pending(): number {
    return this.buf.length;
  }
}

/**
 * A xenstore path as the spec allows it: absolute ("/a/b") or relative to the caller's domain
 * path, characters [A-Za-z0-9-/_@], no doubled or trailing slash (except "/"), not empty,
 * <= ABS_PATH_MAX bytes. Watch paths may also be "@special" names.
 */
export function validPath(path: string): boolean {
  if (path.length === 0 || Buffer.byteLength(path) > ABS_PATH_MAX) return false;
  if (path === '/') return true;
  if (!/^[A-Za-z0-9\-/_@]+$/.test(path)) return false;
  return !path.includes('//') && !path.endsWith('/');
}
