// The M-channel envelope: what every line on the wire is (docs/mchannel.md, "Wire format").
// Checked by hand rather than with zod because it runs once per frame on the hot path; the
// equivalent zod schema (envelopeSchema, exported as schemas/envelope.json) is the documentation
// for peers written in other languages and is tested to agree with parseFrame.
import { z } from 'zod';

export const PROTOCOL_VERSION = 1;

/** Sequence numbers and acks: non-negative safe integers; 0 means "nothing yet". */
export interface HelloFrame {
  t: 'hello';
  /** Protocol version (PROTOCOL_VERSION). */
  v: number;
  /** What the sender is: 'agent', 'host', 'hook', 'leader', ... */
  role: string;
  /** Claimed identity; the receiver trusts the transport's PeerIdentity instead. */
  id: string;
  /** Session id, chosen by the side that opened the session. */
  sid: string;
  /** Incarnation of the sender's outgoing stream: changes only when its send state is lost. */
  inc: string;
  /** Highest seq of the receiver's messages the sender has delivered (resume point). */
  ack: number;
  /** Lowest seq the sender can still (re)send; messages below it that the peer lacks are lost. */
  base: number;
  /** True when this hello answers the peer's hello (no answer is sent to an answer). */
  re: boolean;
  /** Nonce of a hello that expects an answer (re=false). */
  n?: string;
  /** In an answer (re=true): the n of the hello it answers. An answer whose echo is not the n
   *  of our hello on this connection answered someone else (e.g. a line QEMU held from the
   *  previous host's handshake) and is ignored. Peers may omit n/echo. */
  echo?: string;
}

export interface ErrorBody {
  code: string;
  message: string;
}

export interface MsgFrame {
  t: 'msg';
  s: number;
  a: number;
  k: string;
  b?: unknown;
  /** Request id: the receiver must reply with p = q. */
  q?: number;
  /** Reply to request id p: carries b (the reply) or e (an error). */
  p?: number;
  e?: ErrorBody;
}

export interface AckFrame { t: 'ack'; a: number }
export interface HeartbeatFrame { t: 'hb'; a: number }
/** Sent before a deliberate close: session ended (code CHANNEL_CLOSED) or an error. */
export interface ByeFrame { t: 'bye'; code: string; message: string }

export type Frame = HelloFrame | MsgFrame | AckFrame | HeartbeatFrame | ByeFrame;

const MAX_ID = 256;
const MAX_KIND = 128;
const MAX_MESSAGE = 1024;

function isSeq(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isStr(v: unknown, max: number): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= max;
}

/** Returns the frame, or a sentence saying what is wrong with it (for the error budget and logs). */
export function parseFrame(v: unknown): Frame | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'frame is not a JSON object';
  const f = v as Record<string, unknown>;
  switch (f.t) {
    case 'msg': return checkMsg(f);
    case 'ack':
    case 'hb':
      return isSeq(f.a) ? (f as unknown as AckFrame | HeartbeatFrame) : `${f.t}.a must be a non-negative integer`;
    case 'hello': return checkHello(f);
    case 'bye':
      return isStr(f.code, MAX_KIND) && typeof f.message === 'string' && f.message.length <= MAX_MESSAGE
        ? (f as unknown as ByeFrame) : 'bye needs code and message strings';
    default: return `unknown frame type t=${JSON.stringify(f.t)?.slice(0, 40)} (expected msg, ack, hb, hello or bye)`;
  }
}

function checkMsg(f: Record<string, unknown>): MsgFrame | string {
  if (!isSeq(f.s) || f.s === 0) return 'msg.s must be a positive integer';
  if (!isSeq(f.a)) return 'msg.a must be a non-negative integer';
  if (!isStr(f.k, MAX_KIND)) return `msg.k must be a kind name of 1-${MAX_KIND} characters`;
  if (f.q !== undefined && !isSeq(f.q)) return 'msg.q must be a non-negative integer';
  if (f.p !== undefined && !isSeq(f.p)) return 'msg.p must be a non-negative integer';
  if (f.q !== undefined && f.p !== undefined) return 'msg cannot be both a request (q) and a reply (p)';
  if (f.e !== undefined) {
    const e = f.e as Record<string, unknown> | null;
    if (f.p === undefined) return 'msg.e is only allowed on replies';
    if (typeof e !== 'object' || e === null || !isStr(e.code, MAX_KIND) || typeof e.message !== 'string') {
      return 'msg.e must be {code, message}';
    }
  }
  return f as unknown as MsgFrame;
}

function checkHello(f: Record<string, unknown>): HelloFrame | string {
  if (!isSeq(f.v)) return 'hello.v must be the protocol version';
  if (!isStr(f.role, MAX_KIND)) return 'hello.role must be a non-empty string';
  if (typeof f.id !== 'string' || f.id.length > MAX_ID) return `hello.id must be a string of at most ${MAX_ID} characters`;
  if (!isStr(f.sid, MAX_KIND)) return `hello.sid must be a string of 1-${MAX_KIND} characters`;
  if (!isStr(f.inc, MAX_KIND)) return `hello.inc must be a string of 1-${MAX_KIND} characters`;
  if (!isSeq(f.ack)) return 'hello.ack must be a non-negative integer';
  if (!isSeq(f.base) || f.base === 0) return 'hello.base must be a positive integer';
  if (typeof f.re !== 'boolean') return 'hello.re must be a boolean';
  if (f.n !== undefined && !isStr(f.n, MAX_KIND)) return `hello.n must be a string of 1-${MAX_KIND} characters`;
  if (f.echo !== undefined && !isStr(f.echo, MAX_KIND)) return `hello.echo must be a string of 1-${MAX_KIND} characters`;
  return f as unknown as HelloFrame;
}

/** Encodes a hello, ack, heartbeat or bye frame (msg frames are encoded by the session). */
export function controlLine(f: HelloFrame | AckFrame | HeartbeatFrame | ByeFrame): string {
  return `${JSON.stringify(f)}\n`;
}

const seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** The envelope as a zod schema: documentation and JSON Schema export; parseFrame agrees with it. */
export const envelopeSchema = z.union([
  z.object({
    t: z.literal('hello'), v: seq, role: z.string().min(1).max(MAX_KIND), id: z.string().max(MAX_ID),
    sid: z.string().min(1).max(MAX_KIND), inc: z.string().min(1).max(MAX_KIND), ack: seq, base: seq.min(1), re: z.boolean(),
    n: z.string().min(1).max(MAX_KIND).optional(), echo: z.string().min(1).max(MAX_KIND).optional(),
  }).describe('Handshake: sent on every new connection; answered once with re=true (echo = the n of the hello answered)'),
  z.object({
    t: z.literal('msg'), s: seq.min(1), a: seq, k: z.string().min(1).max(MAX_KIND), b: z.unknown().optional(),
    q: seq.optional(), p: seq.optional(), e: z.object({ code: z.string().min(1).max(MAX_KIND), message: z.string() }).optional(),
  }).describe('Data message: s = sequence number, a = cumulative ack, k = kind, b = body; q = request id; p = reply to request id, e = error reply'),
  z.object({ t: z.literal('ack'), a: seq }).describe('Cumulative acknowledgement'),
  z.object({ t: z.literal('hb'), a: seq }).describe('Heartbeat (also carries the cumulative ack)'),
  z.object({ t: z.literal('bye'), code: z.string().min(1).max(MAX_KIND), message: z.string().max(MAX_MESSAGE) })
    .describe('Deliberate close: CHANNEL_CLOSED ends the session; another code reports why the connection is dropped'),
]);
