// Answers the peer's requests (frames with "q"). Contract: each request is answered once with a
// reply frame ("p" = its id): the handler's result (validated as a reply of its kind), or an
// error {code, message}: INVALID_INPUT / UNSUPPORTED for a bad body, UNSUPPORTED when no handler
// is registered, the handler's VmanageError code (FRAME_TOO_LARGE for a result too large to
// send), else UNAVAILABLE; no reply once the channel closed or the peer was cut off. Bounds:
// handlers running are counted (the channel stops reading past maxConcurrentRequests), and a peer
// that keeps asking while maxConcurrentRequests replies wait for replay room is cut off
// (PROTOCOL_VIOLATION), so its requests cannot grow our memory.
import { ErrorCodes, VmanageError } from '../domain/errors.js';
import type { RequestHandler } from './channel-events.js';
import { encodeErrorReply, encodePayload } from './encode.js';
import { SENT } from './outbox.js';
import type { PeerIdentity } from './types.js';
import type { MessageValidator } from './validator.js';
import type { MsgFrame } from './wire.js';

export interface ResponderOptions {
  /** Checks request bodies and our replies (replies failing it are answered INVALID_INPUT). */
  validator: MessageValidator;
  /** Most replies waiting for replay room before the peer is cut off (options.ts). */
  maxConcurrentRequests: number;
}

/** What the Responder needs from its channel. */
export interface ResponderHost {
  closed(): boolean;
  /** Puts a reply payload into the session (Outbox.enqueue: SENT when buffered at once). */
  enqueue(payload: string): Promise<void>;
  peer(): PeerIdentity | undefined;
  /** Drops the connection with PROTOCOL_VIOLATION, telling the peer message. */
  violation(message: string): void;
  /** An incoming body failed validation: the channel counts and reports it. */
  invalid(f: MsgFrame, code: 'UNSUPPORTED' | 'INVALID_INPUT', message: string): void;
  /** A handler finished: the channel may resume reading. */
  settled(): void;
}

interface ErrorBody { code: string; message: string }

export class Responder {
  private readonly handlers = new Map<string, RequestHandler>();
  private running = 0;
  /** Replies waiting for room in the replay buffer. */
  private backlog = 0;
  private readonly opts: ResponderOptions;
  private readonly host: ResponderHost;

  constructor(opts: ResponderOptions, host: ResponderHost) {
    this.opts = opts;
    this.host = host;
  }

  /** Handlers running now. */
  get inflight(): number {
    return this.running;
  }

  /** Registers the handler for requests of kind (one per kind; a later one replaces it). */
  handle(kind: string, handler: RequestHandler): void {
    this.handlers.set(kind, handler);
  }

  /** Answers request frame f (f.q set); stale: it arrived before its connection's handshake.
   *  The handler is called synchronously; the promise settles after the reply is queued. */
  async answer(f: MsgFrame, stale: boolean): Promise<void> {
    const h = this.host;
    const id = f.q as number;
    if (this.backlog >= this.opts.maxConcurrentRequests) {
      h.violation(`${this.backlog} replies wait for acknowledgement: the peer asks without acknowledging`);
      return;
    }
    const c = this.opts.validator.checkBody(f.k, f.b);
    if (!c.ok) {
      h.invalid(f, c.code, c.message);
      this.reply(f.k, id, undefined, { code: c.code, message: c.message });
      return;
    }
    const handler = this.handlers.get(f.k);
    if (!handler) {
      this.reply(f.k, id, undefined, { code: ErrorCodes.Unsupported, message: `no handler for ${f.k}` });
      return;
    }
    this.running++;
    try {
      const result = await handler(c.value, { peer: h.peer(), seq: f.s, stale });
      this.reply(f.k, id, result, undefined);
    } catch (err) {
      const e = err instanceof VmanageError ? err : undefined;
      this.reply(f.k, id, undefined, { code: e?.code ?? ErrorCodes.Unavailable, message: err instanceof Error ? err.message : String(err) });
    } finally {
      this.running--;
      h.settled();
    }
  }

  private reply(kind: string, id: number, body: unknown, error: ErrorBody | undefined): void {
    if (this.host.closed()) return;
    let payload: string;
    try {
      payload = error ? encodeErrorReply(kind, id, error.code, error.message) : encodePayload(this.opts.validator, kind, body, `,"p":${id}`, true);
    } catch (err) {
      payload = encodeErrorReply(kind, id, ErrorCodes.InvalidInput, err instanceof Error ? err.message : String(err));
    }
    const queued = this.host.enqueue(payload);
    if (queued !== SENT) {
      // The replay buffer is full: the reply waits for the peer's acks. A peer that keeps asking
      // without acknowledging would grow this backlog: it is bounded in answer().
      this.backlog++;
      queued.then(() => this.backlog--, () => this.backlog--);
    }
  }
}
