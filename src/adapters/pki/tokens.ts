// One-time join tokens, kept in the CA directory (tokens.json, mode 0600) so that the CLI on the
// CA machine (`vmanagectl ca token`) and the leader's POST /api/join share them without the
// leader's database. Only the SHA-256 of a token is stored; a token is bound to one host name,
// expires, and is consumed by its first successful join. Every read-modify-write holds an
// exclusive lock file (tokens.json.lock, O_EXCL; a lock older than 10 s is taken as stale).
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import type { Clock } from '../../domain/clock.js';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import { checkName } from './names.js';

export const TOKENS_FILE = 'tokens.json';
const TOKEN = /^vmj_[A-Za-z0-9_-]{43}$/;
/** Used or expired entries are kept this long (for `ca token --list` and the reasons), ms. */
const KEEP_MS = 7 * 86_400_000;
const LOCK_STALE_MS = 10_000;
const LOCK_WAIT_MS = 3000;

const entry = z.object({
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  name: z.string(),
  createdAt: z.number().int(),
  expiresAt: z.number().int(),
  usedAt: z.number().int().optional(),
}).strict();
const file = z.object({ version: z.literal(1), tokens: z.array(entry) }).strict();
export type TokenEntry = z.infer<typeof entry>;

export type TokenRefusal = 'malformed' | 'unknown' | 'expired' | 'used' | 'wrong-name';
export type TokenCheck = { ok: true } | { ok: false; reason: TokenRefusal; message: string };

export interface JoinTokensOptions {
  /** Most tokens kept (pending, plus used/expired within the last 7 days). */
  readonly maxTokens?: number;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class JoinTokens {
  constructor(private readonly path: string, private readonly clock: Clock, private readonly o: JoinTokensOptions = {}) {}

  /** A new token for name, valid ttlMs from now. The token itself is returned once, never stored. */
  create(name: string, ttlMs: number): { token: string; expiresAt: number } {
    checkName(name, 'token name');
    if (!Number.isInteger(ttlMs) || ttlMs < 1000 || ttlMs > 30 * 86_400_000) throw new VmanageError(ErrorCodes.InvalidInput, `ttl: expected 1 s to 30 days, got ${ttlMs} ms`, {});
    const token = `vmj_${randomBytes(32).toString('base64url')}`;
    const now = this.clock.now();
    const expiresAt = now + ttlMs;
    this.update((tokens) => {
      if (tokens.length >= (this.o.maxTokens ?? 10_000)) throw new VmanageError(ErrorCodes.OutOfBounds, `${this.path}: ${tokens.length} tokens are pending or recent; refusing to add more`, {});
      tokens.push({ hash: hashToken(token), name, createdAt: now, expiresAt });
    });
    return { token, expiresAt };
  }

  /** Whether token would be accepted for name now (nothing changes). */
  check(token: string, name: string): TokenCheck {
    return this.judge(this.read(), token, name);
  }

  /** Checks and consumes token for name in one locked step: a token works once. */
  consume(token: string, name: string): TokenCheck {
    let result: TokenCheck = { ok: false, reason: 'unknown', message: '' };
    this.update((tokens) => {
      result = this.judge(tokens, token, name);
      if (result.ok) {
        const e = tokens.find((x) => x.hash === hashToken(token));
        if (e) e.usedAt = this.clock.now();
      }
    });
    return result;
  }

  /** Entries (hashes only), oldest first. */
  list(): TokenEntry[] {
    return this.read();
  }

  private judge(tokens: readonly TokenEntry[], token: string, name: string): TokenCheck {
    if (typeof token !== 'string' || !TOKEN.test(token)) return { ok: false, reason: 'malformed', message: 'the token is not a vmanage join token (vmj_ and 43 base64url characters)' };
    const e = tokens.find((x) => x.hash === hashToken(token));
    if (!e) return { ok: false, reason: 'unknown', message: 'unknown token' };
    if (e.usedAt !== undefined) return { ok: false, reason: 'used', message: 'the token was already used' };
    if (this.clock.now() >= e.expiresAt) return { ok: false, reason: 'expired', message: `the token expired at ${new Date(e.expiresAt).toISOString()}` };
    if (e.name !== name) return { ok: false, reason: 'wrong-name', message: `the token was issued for another host name than ${JSON.stringify(name)}` };
    return { ok: true };
  }

  private read(): TokenEntry[] {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new VmanageError(ErrorCodes.PkiFailed, `cannot read ${this.path}: ${(err as Error).message}`, { path: this.path });
    }
    try {
      return file.parse(JSON.parse(text)).tokens;
    } catch (err) {
      throw new VmanageError(ErrorCodes.PkiFailed, `${this.path} is not a valid token file: ${(err as Error).message.slice(0, 200)}`, { path: this.path });
    }
  }

  private update(fn: (tokens: TokenEntry[]) => void): void {
    const unlock = this.lock();
    try {
      const now = this.clock.now();
      const tokens = this.read().filter((e) => Math.max(e.usedAt ?? 0, e.expiresAt) + KEEP_MS > now);
      fn(tokens);
      const tmp = `${this.path}.${process.pid}.tmp`;
      writeFileSync(tmp, `${JSON.stringify({ version: 1, tokens })}\n`, { mode: 0o600 });
      renameSync(tmp, this.path);
    } finally {
      unlock();
    }
  }

  private lock(): () => void {
    const lockPath = `${this.path}.lock`;
    const deadline = Date.now() + LOCK_WAIT_MS; // real time: another process holds the lock
    for (;;) {
      try {
        closeSync(openSync(lockPath, 'wx', 0o600));
        return () => { try { unlinkSync(lockPath); } catch { /* gone */ } };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new VmanageError(ErrorCodes.PkiFailed, `cannot lock ${this.path}: ${(err as Error).message}`, { path: this.path });
      }
      try {
        if (Date.now() - statSync(lockPath).mtimeMs > LOCK_STALE_MS) unlinkSync(lockPath);
      } catch { /* released meanwhile */ }
      if (Date.now() > deadline) throw new VmanageError(ErrorCodes.Unavailable, `${lockPath} is held by another process`, { path: lockPath });
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
}
