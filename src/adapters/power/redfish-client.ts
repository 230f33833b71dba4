// A small Redfish client: GET/PATCH JSON with HTTP basic authentication or a Redfish session
// (POST /redfish/v1/SessionService/Sessions -> X-Auth-Token; on a 401 the session is created
// again once and the request retried; close() logs out), a hard deadline per
// request (AbortSignal.timeout) and a cap on the body size. Every body is parsed with a zod
// schema at this boundary. Failures become VmanageError:
//   no answer within timeoutMs -> TIMEOUT; 401/403 -> BMC_AUTH_FAILED;
//   non-JSON, wrong shape, other HTTP errors -> BMC_PROTOCOL_ERROR (Redfish's error message kept);
//   connection refused / reset -> UNAVAILABLE.
// HTTPS with a private CA: start Node with NODE_EXTRA_CA_CERTS (fetch has no per-request CA).
import type { z } from 'zod';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';

export interface RedfishEndpoint {
  /** e.g. "https://bmc.example:443" (no trailing slash). */
  readonly baseUrl: string;
  readonly username: string;
  readonly password: string;
  /** Hard deadline per request, ms. */
  readonly timeoutMs: number;
  /** 'basic' (default) or 'session' (Redfish's recommended login, fewer password checks on the BMC). */
  readonly auth?: 'basic' | 'session';
}

const SESSIONS_PATH = '/redfish/v1/SessionService/Sessions';

export interface RedfishCounters { requests: number; timeouts: number; authFailures: number; protocolErrors: number }

const MAX_BODY_BYTES = 1024 * 1024;

export class RedfishClient {
  readonly counters: RedfishCounters = { requests: 0, timeouts: 0, authFailures: 0, protocolErrors: 0 };
  private readonly basic: string;
  private session: { token: string; location: string | null } | undefined;

  constructor(readonly endpoint: RedfishEndpoint) {
    this.basic = `Basic ${Buffer.from(`${endpoint.username}:${endpoint.password}`).toString('base64')}`;
  }

  get<T>(path: string, schema: z.ZodType<T>): Promise<T> {
    return this.request('GET', path, schema);
  }

  patch<T>(path: string, body: unknown, schema: z.ZodType<T>): Promise<T> {
    return this.request('PATCH', path, schema, body);
  }

  /** Logs out of the Redfish session, if any (best effort: the BMC expires it anyway). */
  async close(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    if (s?.location) await this.send('DELETE', s.location, { 'x-auth-token': s.token }).catch(() => undefined);
  }

  private async authHeaders(): Promise<Record<string, string>> {
    if (this.endpoint.auth !== 'session') return { authorization: this.basic };
    this.session ??= await this.login();
    return { 'x-auth-token': this.session.token };
  }

  private async login(): Promise<{ token: string; location: string | null }> {
    const res = await this.send('POST', SESSIONS_PATH, {}, { UserName: this.endpoint.username, Password: this.endpoint.password });
    const token = res.headers.get('x-auth-token');
    if (res.status === 401 || res.status === 403) {
      this.counters.authFailures++;
      throw new VmanageError(ErrorCodes.BmcAuthFailed, `Redfish login: HTTP ${res.status}, the BMC refused the credentials`, { path: SESSIONS_PATH, status: res.status });
    }
    if (res.status < 200 || res.status >= 300 || !token || token.length > 4096) {
      throw this.protocol(`Redfish login: HTTP ${res.status}${token ? '' : ' without an X-Auth-Token'}`, { path: SESSIONS_PATH, status: res.status });
    }
    const location = res.headers.get('location');
    return { token, location: location && location.startsWith('/redfish/v1/') ? location : null };
  }

  /** One HTTP exchange with the deadline and the body cap; transport failures become VmanageError. */
  private async send(method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; text: string; headers: Headers }> {
    this.counters.requests++;
    try {
      const res = await fetch(`${this.endpoint.baseUrl}${path}`, {
        method,
        headers: { accept: 'application/json', ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.endpoint.timeoutMs),
        redirect: 'error',
      });
      return { status: res.status, text: await readCapped(res), headers: res.headers };
    } catch (err) {
      throw this.transportError(err, { method, path });
    }
  }

  private async request<T>(method: string, path: string, schema: z.ZodType<T>, body?: unknown): Promise<T> {
    const where = { method, path };
    let { status, text } = await this.send(method, path, await this.authHeaders(), body);
    if ((status === 401 || status === 403) && this.endpoint.auth === 'session') {
      // The session expired (BMC restart, idle timeout): log in again once.
      this.session = undefined;
      ({ status, text } = await this.send(method, path, await this.authHeaders(), body));
    }
    if (status === 401 || status === 403) {
      this.counters.authFailures++;
      throw new VmanageError(ErrorCodes.BmcAuthFailed, `Redfish ${method} ${path}: HTTP ${status}, the BMC refused the credentials`, { ...where, status });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw this.protocol(`Redfish ${method} ${path}: HTTP ${status} body is not JSON`, { ...where, status, expected: 'a JSON object' });
    }
    if (status < 200 || status >= 300) {
      const msg = (json as { error?: { message?: unknown } })?.error?.message;
      throw this.protocol(`Redfish ${method} ${path}: HTTP ${status}${typeof msg === 'string' ? `: ${msg.slice(0, 300)}` : ''}`, { ...where, status });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
      throw this.protocol(`Redfish ${method} ${path}: unexpected shape: ${issues.join('; ')}`, { ...where, issues });
    }
    return parsed.data;
  }

  private protocol(message: string, details: Record<string, unknown>): VmanageError {
    this.counters.protocolErrors++;
    return new VmanageError(ErrorCodes.BmcProtocolError, message, details);
  }

  private transportError(err: unknown, where: Record<string, unknown>): VmanageError {
    if (err instanceof VmanageError) return err;
    const name = (err as { name?: string })?.name;
    if (name === 'TimeoutError' || name === 'AbortError') {
      this.counters.timeouts++;
      return new VmanageError(ErrorCodes.Timeout, `Redfish ${String(where.method)} ${String(where.path)}: no answer within ${this.endpoint.timeoutMs} ms`, { ...where, timeoutMs: this.endpoint.timeoutMs }, { cause: err });
    }
    return new VmanageError(ErrorCodes.Unavailable, `Redfish ${String(where.method)} ${String(where.path)}: ${(err as Error)?.message ?? String(err)}`, where, { cause: err });
  }
}

/** Reads the body as text, refusing more than MAX_BODY_BYTES (a hostile BMC cannot fill memory). */
async function readCapped(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel();
      throw new VmanageError(ErrorCodes.BmcProtocolError, `Redfish body larger than ${MAX_BODY_BYTES} bytes`, { limit: MAX_BODY_BYTES });
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
