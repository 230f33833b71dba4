// A xenstore client over any byte stream that speaks the xs_wire framing: the dom0 unix socket
// (/var/run/xenstored/socket) or a guest's /dev/xen/xenbus (see connect.ts). Requests are
// matched to replies by req_id (replies may come in any order), WATCH_EVENTs are dispatched by
// token, transactions retry on EAGAIN. Replies are untrusted: anything malformed becomes a typed
// error, is counted in `stats`, and never throws out of an event handler.
import type { Duplex } from 'node:stream';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import { isErrno, isXsErrno, xenstoreError } from './errors.js';
import { FrameDecoder, PAYLOAD_MAX, encodeMessage, payloadOf, splitNul, typeName, validPath, XsType, type XsMessage } from './wire.js';

export interface XenstoreClientStats {
  requests: number;
  replies: number;
  /** ERROR replies (any errno). */
  errorReplies: number;
  /** Replies or events we could not make sense of (bad header, wrong type, bad payload). */
  malformed: number;
  /** Replies whose req_id matches no outstanding request. */
  unmatched: number;
  watchEvents: number;
  /** Watch events for a token we do not hold, or whose handler threw. */
  droppedWatchEvents: number;
  transactionRetries: number;
}

export type WatchHandler = (path: string, token: string) => void;

export interface XenstoreClientOptions {
  /** At most this many requests in flight; more are refused with Unavailable. Default 1024. */
  maxPending?: number;
  /** Attempts for transaction() when the commit answers EAGAIN. Default 16. */
  transactionAttempts?: number;
  /** Largest request payload to send, bytes (default 4096; the Linux xenbus device takes 4080). */
  maxRequestPayload?: number;
  /** Called for every event handler failure (for logs); default: ignore (counted anyway). */
  onHandlerError?: (err: unknown) => void;
}

interface Pending {
  readonly type: number;
  readonly path: string;
  resolve(payload: Buffer): void;
  reject(err: Error): void;
}

/** A transaction id as used in the tx_id header field; 0 means "no transaction". */
export type TxId = number;

export class XenstoreClient {
  readonly stats: XenstoreClientStats = {
    requests: 0, replies: 0, errorReplies: 0, malformed: 0, unmatched: 0,
    watchEvents: 0, droppedWatchEvents: 0, transactionRetries: 0,
  };
  private readonly decoder: FrameDecoder;
  private readonly pending = new Map<number, Pending>();
  private readonly watches = new Map<string, WatchHandler>();
  private readonly closeHandlers: ((err?: Error) => void)[] = [];
  private nextReqId = 1;
  private closedWith: Error | undefined;
  private readonly maxPending: number;
  private readonly attempts: number;

  constructor(private readonly stream: Duplex, readonly where: string, private readonly opts: XenstoreClientOptions = {}) {
    this.decoder = new FrameDecoder(where);
    this.maxPending = opts.maxPending ?? 1024;
    this.attempts = opts.transactionAttempts ?? 16;
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('error', (err) => this.shutdown(new VmanageError(ErrorCodes.Unavailable, `xenstore connection ${where} failed: ${err.message}`, { where }, { cause: err })));
    stream.on('close', () => this.shutdown(new VmanageError(ErrorCodes.ChannelClosed, `xenstore connection ${where} closed`, { where })));
    stream.on('end', () => this.shutdown(new VmanageError(ErrorCodes.ChannelClosed, `xenstore connection ${where} closed by the peer`, { where })));
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Runs once when the connection ends, with the reason (undefined for close()). */
  onClose(handler: (err?: Error) => void): void {
    if (this.closedWith) handler(this.closedWith);
    else this.closeHandlers.push(handler);
  }

  close(): void {
    this.shutdown(new VmanageError(ErrorCodes.ChannelClosed, `xenstore connection ${this.where} closed locally`, { where: this.where }));
  }

  async read(path: string, tx: TxId = 0): Promise<Buffer> {
    return await this.request(XsType.Read, path, [path], undefined, tx);
  }

  async readString(path: string, tx: TxId = 0): Promise<string> {
    return (await this.read(path, tx)).toString('utf8');
  }

  /** READ that answers undefined instead of failing with ENOENT. */
  async tryRead(path: string, tx: TxId = 0): Promise<Buffer | undefined> {
    try {
      return await this.read(path, tx);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
  }

  async write(path: string, value: Buffer | string, tx: TxId = 0): Promise<void> {
    await this.expectOk(XsType.Write, path, [path], value, tx);
  }

  async mkdir(path: string, tx: TxId = 0): Promise<void> {
    await this.expectOk(XsType.Mkdir, path, [path], undefined, tx);
  }

  async rm(path: string, tx: TxId = 0): Promise<void> {
    await this.expectOk(XsType.Rm, path, [path], undefined, tx);
  }

  async directory(path: string, tx: TxId = 0): Promise<string[]> {
    const names = splitNul(await this.request(XsType.Directory, path, [path], undefined, tx));
    if (names.some((n) => n.length === 0 || n.includes('/'))) throw this.malformed(XsType.Directory, path, 'a child name that is empty or contains "/"');
    return names;
  }

  /** Permissions as strings: first entry is the owner and everyone's default ("n0", "r5", "b3", "w2"). */
  async getPerms(path: string, tx: TxId = 0): Promise<string[]> {
    const perms = splitNul(await this.request(XsType.GetPerms, path, [path], undefined, tx));
    if (perms.length === 0 || perms.some((p) => !/^[nrwb]\d{1,5}$/.test(p))) throw this.malformed(XsType.GetPerms, path, 'permissions like "n0" or "b5"');
    return perms;
  }

  async setPerms(path: string, perms: readonly string[], tx: TxId = 0): Promise<void> {
    await this.expectOk(XsType.SetPerms, path, [path, ...perms], undefined, tx);
  }

  async getDomainPath(domid: number): Promise<string> {
    const [path] = splitNul(await this.request(XsType.GetDomainPath, String(domid), [String(domid)]));
    if (path === undefined || !validPath(path)) throw this.malformed(XsType.GetDomainPath, String(domid), 'a path');
    return path;
  }

  /** Adds a watch; the handler also runs once straight away (xenstored's initial fire). */
  async watch(path: string, token: string, handler: WatchHandler): Promise<void> {
    if (this.watches.has(token)) throw new VmanageError(ErrorCodes.InvalidInput, `xenstore watch token ${token} is already in use`, { token });
    this.watches.set(token, handler);
    try {
      await this.expectOk(XsType.Watch, path, [path, token]);
    } catch (err) {
      this.watches.delete(token);
      throw err;
    }
  }

  async unwatch(path: string, token: string): Promise<void> {
    this.watches.delete(token);
    if (this.closed) return;
    await this.expectOk(XsType.Unwatch, path, [path, token]);
  }

  /**
   * Runs fn inside a transaction and commits; when the commit (or an operation) answers EAGAIN
   * because of an intervening write, runs fn again, up to `transactionAttempts` times.
   * fn must be safe to repeat and must pass the TxId to every operation it does.
   */
  async transaction<T>(fn: (tx: TxId) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const tx = await this.startTransaction();
      let result: T;
      try {
        result = await fn(tx);
      } catch (err) {
        await this.endTransaction(tx, false).catch(() => undefined);
        if (isErrno(err, 'EAGAIN') && attempt < this.attempts) { this.stats.transactionRetries++; continue; }
        throw err;
      }
      try {
        await this.endTransaction(tx, true);
        return result;
      } catch (err) {
        if (!isErrno(err, 'EAGAIN') || attempt >= this.attempts) throw err;
        this.stats.transactionRetries++;
      }
    }
  }

  async startTransaction(): Promise<TxId> {
    const [id] = splitNul(await this.request(XsType.TransactionStart, '', ['']));
    if (id === undefined || !/^\d{1,10}$/.test(id) || Number(id) > 0xffffffff || Number(id) === 0) {
      throw this.malformed(XsType.TransactionStart, '', 'a non-zero decimal u32 transaction id');
    }
    return Number(id);
  }

  async endTransaction(tx: TxId, commit: boolean): Promise<void> {
    await this.expectOk(XsType.TransactionEnd, '', [commit ? 'T' : 'F'], undefined, tx);
  }

  private async expectOk(type: number, path: string, strings: string[], tail?: Buffer | string, tx: TxId = 0): Promise<void> {
    const reply = await this.request(type, path, strings, tail, tx);
    if (reply.toString('latin1') !== 'OK\0' && reply.toString('latin1') !== 'OK') throw this.malformed(type, path, '"OK"');
  }

  /** Sends one request and resolves with the reply payload (ERROR replies reject). */
  async request(type: number, path: string, strings: string[], tail?: Buffer | string, tx: TxId = 0): Promise<Buffer> {
    if (this.closedWith) throw this.closedWith;
    if (this.pending.size >= this.maxPending) {
      throw new VmanageError(ErrorCodes.Unavailable, `xenstore ${this.where}: ${this.pending.size} requests already in flight`, { where: this.where });
    }
    const payload = payloadOf(strings, tail);
    const max = this.opts.maxRequestPayload ?? PAYLOAD_MAX;
    if (payload.length > max) {
      throw new VmanageError(ErrorCodes.FrameTooLarge, `xenstore ${typeName(type)} ${path}: payload of ${payload.length} bytes exceeds ${max}`, { op: typeName(type), path, bytes: payload.length, max });
    }
    const reqId = this.allocReqId();
    const frame = encodeMessage({ type, reqId, txId: tx, payload });
    this.stats.requests++;
    return await new Promise<Buffer>((resolve, reject) => {
      this.pending.set(reqId, { type, path, resolve, reject });
      this.stream.write(frame);
    });
  }

  private allocReqId(): number {
    for (;;) {
      const id = this.nextReqId;
      this.nextReqId = (this.nextReqId + 1) >>> 0 || 1;
      if (!this.pending.has(id)) return id;
    }
  }

  private onData(chunk: Buffer): void {
    let messages: XsMessage[];
    try {
      messages = this.decoder.push(chunk);
    } catch (err) {
      this.stats.malformed++;
      this.shutdown(err as Error);
      this.stream.destroy();
      return;
    }
    for (const msg of messages) this.dispatch(msg);
  }

  private dispatch(msg: XsMessage): void {
    if (msg.type === XsType.WatchEvent) {
      this.onWatchEvent(msg.payload);
      return;
    }
    const reqId = msg.reqId === 0 ? this.legacyWatchReply(msg.type) : msg.reqId;
    const p = reqId === undefined ? undefined : this.pending.get(reqId);
    if (!p) {
      this.stats.unmatched++;
      return;
    }
    this.pending.delete(reqId!);
    this.stats.replies++;
    if (msg.type === XsType.Error) {
      this.stats.errorReplies++;
      const [errno = ''] = splitNul(msg.payload);
      if (!isXsErrno(errno)) this.stats.malformed++;
      p.reject(xenstoreError(errno, typeName(p.type), p.path));
    } else if (msg.type !== p.type) {
      p.reject(this.malformed(p.type, p.path, `a ${typeName(p.type)} reply, got ${typeName(msg.type)}`));
    } else {
      p.resolve(msg.payload);
    }
  }

  /**
   * Linux xenbus devices before the 2017 rework answer WATCH/UNWATCH themselves with req_id 0 (we
   * never use 0): such a reply belongs to the oldest outstanding request of that type.
   */
  private legacyWatchReply(type: number): number | undefined {
    if (type !== XsType.Watch && type !== XsType.Unwatch) return undefined;
    for (const [id, p] of this.pending) if (p.type === type) return id;
    return undefined;
  }

  private onWatchEvent(payload: Buffer): void {
    this.stats.watchEvents++;
    const parts = splitNul(payload);
    const [path, token] = parts;
    const handler = token === undefined ? undefined : this.watches.get(token);
    if (path === undefined || token === undefined || handler === undefined) {
      this.stats.droppedWatchEvents++;
      return;
    }
    try {
      handler(path, token);
    } catch (err) {
      this.stats.droppedWatchEvents++;
      this.opts.onHandlerError?.(err);
    }
  }

  private malformed(type: number, path: string, expected: string): VmanageError {
    this.stats.malformed++;
    return new VmanageError(ErrorCodes.ProtocolViolation, `xenstore ${this.where}: malformed ${typeName(type)} reply for ${JSON.stringify(path)}; expected ${expected}`, { where: this.where, op: typeName(type), path });
  }

  private shutdown(reason: Error): void {
    if (this.closedWith) return;
    this.closedWith = reason;
    for (const p of this.pending.values()) p.reject(reason);
    this.pending.clear();
    this.watches.clear();
    if (!this.stream.destroyed) this.stream.destroy();
    for (const h of this.closeHandlers.splice(0)) h(reason);
  }
}
