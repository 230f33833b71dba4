// The host side of certificate bootstrap (`vmanagectl join`): makes the host's key and a CSR
// locally (the private key never leaves the host), POSTs {name, token, csr} to the leader's
// /api/join and writes what comes back after checking it: the certificate must be for CN = name,
// carry this key, and be issued by the returned CA certificate; with caSha256 the CA certificate
// must have that SHA-256 fingerprint (pinning the CA when the leader is reached over plain HTTP or
// with an HTTPS certificate the host cannot verify yet).
// Files written in dir: NAME.key (0600), NAME.crt, ca.crt (an existing different ca.crt is refused).
// With `group`, the key is 0640 and dir 0750, both owned by root:group (the Debian ssl-cert
// pattern): the host daemon runs as the unprivileged vmanage user and must read its key.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import { CA_CERT, makeCsr, newKey, writeKey } from './ca.js';
import { checkName } from './names.js';

export interface JoinOptions {
  /** The leader's HTTP API base, e.g. https://leader:8470. */
  readonly leaderUrl: string;
  readonly token: string;
  readonly name: string;
  readonly dir: string;
  /** PEM of a CA trusted for the leader's HTTPS certificate (default: the system's). */
  readonly httpsCa?: string;
  /** Expected SHA-256 fingerprint of the cluster CA certificate (hex, colons optional). */
  readonly caSha256?: string;
  readonly timeoutMs?: number;
  /** A group (its id, see groupId) that may read the key: key 0640, dir 0750, root:group. */
  readonly gid?: number;
}

export interface JoinResult {
  readonly certPath: string; readonly keyPath: string; readonly caPath: string; readonly caSha256: string;
  /** The key's mode as written (0o600, or 0o640 with a group). */
  readonly keyMode: number;
}

const MAX_REPLY_BYTES = 64 * 1024;

export async function joinLeader(o: JoinOptions): Promise<JoinResult> {
  const name = checkName(o.name);
  const keyPath = join(o.dir, `${name}.key`);
  const certPath = join(o.dir, `${name}.crt`);
  const caPath = join(o.dir, CA_CERT);
  if (existsSync(keyPath) || existsSync(certPath)) throw new VmanageError(ErrorCodes.PkiFailed, `${keyPath} or ${certPath} exists; refusing to replace it`, { name });
  const key = await newKey();
  const csr = await makeCsr(key, name);
  const reply = await post(new URL('/api/join', o.leaderUrl), { name, token: o.token, csr }, o);
  const { cert, ca } = checkReply(reply, name, key, o.caSha256);
  if (existsSync(caPath) && normalize(readFileSync(caPath, 'utf8')) !== normalize(ca.toString())) {
    throw new VmanageError(ErrorCodes.PkiFailed, `${caPath} holds another CA than the leader's; refusing to replace it`, { path: caPath });
  }
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  writeKey(keyPath, key);
  if (o.gid !== undefined) shareWithGroup(o.dir, keyPath, o.gid);
  writeFileSync(certPath, cert.toString(), { mode: 0o644 });
  if (!existsSync(caPath)) writeFileSync(caPath, ca.toString(), { mode: 0o644 });
  return { certPath, keyPath, caPath, caSha256: ca.fingerprint256, keyMode: o.gid !== undefined ? 0o640 : 0o600 };
}

function shareWithGroup(dir: string, keyPath: string, gid: number): void {
  try {
    chownSync(keyPath, 0, gid);
    chmodSync(keyPath, 0o640);
    chownSync(dir, 0, gid);
    chmodSync(dir, 0o750);
  } catch (err) {
    throw new VmanageError(ErrorCodes.PkiFailed, `cannot give group ${gid} read access to ${keyPath}: ${(err as Error).message}`, { path: keyPath });
  }
}

/**
 * The id of a group named in /etc/group (the file is the only source read: no NSS), or undefined
 * when there is no such group. `file` is for tests.
 */
export function groupId(name: string, file = '/etc/group'): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [n, , id] = line.split(':');
    if (n === name && id !== undefined && /^\d+$/.test(id)) return Number(id);
  }
  return undefined;
}

function normalize(pem: string): string {
  return pem.replace(/\s+/g, '');
}

function refuse(why: string): VmanageError {
  return new VmanageError(ErrorCodes.JoinRefused, `join: ${why}`, {});
}

function checkReply(reply: unknown, name: string, key: string, caSha256: string | undefined): { cert: X509Certificate; ca: X509Certificate } {
  const r = reply as { cert?: unknown; ca?: unknown };
  if (typeof r?.cert !== 'string' || typeof r.ca !== 'string') throw refuse('the leader answered without {cert, ca}');
  let cert: X509Certificate;
  let ca: X509Certificate;
  try {
    cert = new X509Certificate(r.cert);
    ca = new X509Certificate(r.ca);
  } catch (err) {
    throw refuse(`the leader's answer does not hold valid certificates (${(err as Error).message})`);
  }
  if (caSha256 !== undefined && fp(ca.fingerprint256) !== fp(caSha256)) throw refuse(`the CA certificate's SHA-256 is ${ca.fingerprint256}, expected ${caSha256}`);
  if (!ca.ca || !cert.checkIssued(ca) || !cert.verify(ca.publicKey)) throw refuse('the certificate is not issued by the CA certificate sent with it');
  if (cert.subject.trim() !== `CN=${name}`) throw refuse(`the certificate is for "${cert.subject.trim()}", expected CN=${name}`);
  if (!cert.checkPrivateKey(createPrivateKey(key))) throw refuse('the certificate does not carry this host\'s key');
  return { cert, ca };
}

function fp(s: string): string {
  return s.replace(/:/g, '').toLowerCase();
}

async function post(url: URL, body: object, o: JoinOptions): Promise<unknown> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new VmanageError(ErrorCodes.InvalidInput, `--leader: expected an http:// or https:// URL, got ${url.protocol}`, {});
  const data = JSON.stringify(body);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return await new Promise((resolve, reject) => {
    const req = send(url, {
      method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
      timeout: o.timeoutMs ?? 15_000, ...(o.httpsCa ? { ca: o.httpsCa } : {}),
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
        if (text.length > MAX_REPLY_BYTES) req.destroy(new Error(`reply longer than ${MAX_REPLY_BYTES} bytes`));
      });
      res.on('end', () => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          reject(refuse(`${url.href} answered ${res.statusCode} with something that is not JSON`));
          return;
        }
        if (res.statusCode === 200) resolve(parsed);
        else {
          const p = parsed as { reason?: unknown; message?: unknown };
          reject(refuse(`${url.href} refused (${res.statusCode}): ${String(p.message ?? p.reason ?? text).slice(0, 300)}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${o.timeoutMs ?? 15_000} ms`)));
    req.on('error', (err) => reject(new VmanageError(ErrorCodes.Unavailable, `cannot reach ${url.href}: ${err.message}`, { url: url.href }, { cause: err })));
    req.end(data);
  });
}
