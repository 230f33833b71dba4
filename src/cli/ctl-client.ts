// vmanagectl's client for the leader's HTTP API (docs/api.md): one JSON request per call, over
// http or https (with the cluster CA and, for mTLS, a client certificate). Failures become
// CtlError with the exit status vmanagectl returns and a message that says which URL failed
// and how: 1 the leader cannot be reached, answers badly or is not the leader; 2 the leader
// refused the request as invalid (400); 3 the leader refused the action (done: false).
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

export const DEFAULT_LEADER_URL = 'http://127.0.0.1:8470';
/** Bound on one request, ms. */
const TIMEOUT_MS = 10_000;
/** An answer longer than this is not something to buffer, bytes. */
const MAX_ANSWER_BYTES = 16 << 20;

export class CtlError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

export interface LeaderTarget {
  readonly leader?: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

export interface LeaderClient {
  readonly url: string;
  get<T>(path: string): Promise<T>;
  /** timeoutMs: how long the leader may stay silent (default 10 s; place --create waits for the host). */
  send<T>(method: 'POST' | 'PUT', path: string, body: object, timeoutMs?: number): Promise<T>;
}

function readPem(what: string, path: string | undefined): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new CtlError(`cannot read the ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 2);
  }
}

function baseUrl(raw: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new CtlError(`--leader: expected a URL like ${DEFAULT_LEADER_URL}, got ${JSON.stringify(raw)}`, 2);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new CtlError(`--leader: expected an http:// or https:// URL, got ${u.protocol}`, 2);
  return u;
}

/** The error object of a 4xx/5xx answer, or a short excerpt of what came instead. */
function errorText(status: number, text: string): string {
  try {
    const e = (JSON.parse(text) as { error?: { message?: string; leaderId?: string } }).error;
    if (e?.message) return e.message;
  } catch { /* not JSON */ }
  return `HTTP ${status}: ${text.slice(0, 200)}`;
}

export function leaderClient(t: LeaderTarget): LeaderClient {
  const url = baseUrl(t.leader ?? DEFAULT_LEADER_URL);
  const tls = { ca: readPem('CA certificate (--ca)', t.ca), cert: readPem('client certificate (--cert)', t.cert), key: readPem('client key (--key)', t.key) };
  const where = url.origin;

  const call = <T>(method: string, path: string, body?: object, timeoutMs = TIMEOUT_MS): Promise<T> => new Promise((resolve, reject) => {
    const target = new URL(path, url);
    const raw = body === undefined ? undefined : JSON.stringify(body);
    const opts = {
      method, timeout: timeoutMs,
      headers: { accept: 'application/json', ...(raw !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(raw) } : {}) },
      ...(url.protocol === 'https:' ? Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined)) : {}),
    };
    const onAnswer = (res: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER_BYTES) { req.destroy(); reject(new CtlError(`${where}: answer longer than ${MAX_ANSWER_BYTES} bytes`, 1)); return; }
        chunks.push(c);
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        if (status >= 400) {
          reject(new CtlError(`${method} ${target.pathname}: ${errorText(status, text)}`, status === 400 ? 2 : 1));
          return;
        }
        try {
          resolve(JSON.parse(text) as T);
        } catch {
          reject(new CtlError(`${where}${target.pathname}: the answer is not JSON: ${JSON.stringify(text.slice(0, 200))}`, 1));
        }
      });
    };
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(target, opts, onAnswer);
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e: NodeJS.ErrnoException) => {
      const how = e.code === 'ECONNREFUSED' ? 'connection refused' : (e.code ?? e.message);
      reject(new CtlError(`cannot reach the leader at ${where}: ${how}`, 1));
    });
    if (raw !== undefined) req.write(raw);
    req.end();
  });

  return { url: where, get: (path) => call('GET', path), send: (method, path, body, timeoutMs) => call(method, path, body, timeoutMs) };
}
