// The cluster CA on disk, through the openssl CLI. Layout of a CA directory:
//   ca.key   the CA's private key (EC P-256, mode 0600; never leaves this directory)
//   ca.crt   the CA certificate (CN = the CA name, CA:TRUE, keyCertSign)
//   tokens.json  one-time join tokens, hashed (tokens.ts)
// Leaf certificates (hosts and leaders) carry CN = name, SANs (DNS / IP), serverAuth + clientAuth
// (a leader serves hosts; a host is a client), and a random 128-bit serial. A CSR's own extensions
// are never copied: what a leaf may do is decided here, not by the requester.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import { checkName, parseSans, sanLine } from './names.js';
import { openssl, opensslOutput } from './openssl.js';

export const CA_KEY = 'ca.key';
export const CA_CERT = 'ca.crt';
/** Largest CSR accepted, bytes (an EC or RSA-4096 CSR is under 2 KiB). */
export const MAX_CSR_BYTES = 8192;

export interface CaInitOptions {
  readonly name?: string;
  /** Validity, days (default 3650). */
  readonly days?: number;
}

export interface IssueOptions {
  readonly name: string;
  /** DNS names / IP addresses (default: [name]). */
  readonly san?: readonly string[];
  /** Validity, days (default 825). */
  readonly days?: number;
}

export interface KeyPair { readonly key: string; readonly cert: string }

/** A new EC P-256 private key, PEM (PKCS#8). */
export async function newKey(): Promise<string> {
  return await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']);
}

/** Writes a private key with mode 0600 from the start; refuses to overwrite. */
export function writeKey(path: string, pem: string): void {
  try {
    writeFileSync(path, pem, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    throw new VmanageError(ErrorCodes.PkiFailed, `cannot write the key ${path}: ${(err as Error).message}`, { path });
  }
  chmodSync(path, 0o600);
}

function checkDays(days: number, what: string): number {
  if (!Number.isInteger(days) || days < 1 || days > 36500) throw new VmanageError(ErrorCodes.InvalidInput, `${what}: expected whole days 1-36500, got ${days}`, {});
  return days;
}

/** Creates the CA key and certificate in dir (created 0700 if missing); refuses if a CA is there. */
export async function initCa(dir: string, o: CaInitOptions = {}): Promise<{ certPath: string; keyPath: string }> {
  const name = checkName(o.name ?? 'vmanage-ca', 'CA name');
  const days = checkDays(o.days ?? 3650, 'days');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keyPath = join(dir, CA_KEY);
  const certPath = join(dir, CA_CERT);
  if (existsSync(keyPath) || existsSync(certPath)) throw new VmanageError(ErrorCodes.PkiFailed, `${dir} already holds a CA (${CA_KEY} / ${CA_CERT}); refusing to replace it`, { dir });
  writeKey(keyPath, await newKey());
  const cert = await openssl(['req', '-x509', '-new', '-key', keyPath, '-subj', `/CN=${name}`, '-days', String(days), '-sha256',
    '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  writeFileSync(certPath, cert, { mode: 0o644 });
  return { certPath, keyPath };
}

export function readCaCert(dir: string): string {
  try {
    return readFileSync(join(dir, CA_CERT), 'utf8');
  } catch (err) {
    throw new VmanageError(ErrorCodes.PkiFailed, `no CA certificate in ${dir} (${(err as Error).message}); run "vmanagectl ca init --dir ${dir}" first`, { dir });
  }
}

/** A CSR for CN = name made with key (PEM). */
export async function makeCsr(key: string, name: string): Promise<string> {
  checkName(name);
  const dir = await mkdtemp(join(tmpdir(), 'vmanage-csr-'));
  try {
    const keyPath = join(dir, 'k.pem');
    await writeFile(keyPath, key, { mode: 0o600 });
    return await openssl(['req', '-new', '-key', keyPath, '-subj', `/CN=${name}`, '-sha256']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Checks an untrusted CSR: PEM of bounded size, a valid self-signature, subject exactly CN=name,
 * and an EC (P-256/P-384) or RSA (>= 2048 bit) key. Throws JOIN_REFUSED with the reason.
 */
export async function checkCsr(csr: string, name: string): Promise<void> {
  const refuse = (why: string): VmanageError => new VmanageError(ErrorCodes.JoinRefused, `bad CSR: ${why}`, { name });
  if (typeof csr !== 'string' || csr.length > MAX_CSR_BYTES) throw refuse(`expected a PEM certificate request of at most ${MAX_CSR_BYTES} bytes`);
  if (!/^-----BEGIN CERTIFICATE REQUEST-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE REQUEST-----\r?\n?$/.test(csr)) throw refuse('expected one PEM block "CERTIFICATE REQUEST"');
  let text: string;
  try {
    const r = await opensslOutput(['req', '-noout', '-verify', '-subject', '-nameopt', 'RFC2253', '-text'], { input: csr });
    // openssl 3.0 exits 0 on a bad self-signature; only its "verify OK" counts.
    if (!/verify OK/.test(r.stderr) || /verify fail/i.test(r.stderr)) throw new Error('its self-signature does not verify');
    text = r.stdout;
  } catch (err) {
    throw refuse(`openssl cannot verify it (${(err as Error).message.replace(/^openssl req failed: /, '')})`);
  }
  const subject = /^subject=(.*)$/m.exec(text)?.[1]?.trim();
  if (subject !== `CN=${name}`) throw refuse(`its subject is "${(subject ?? '').slice(0, 100)}", expected "CN=${name}"`);
  const alg = /Public Key Algorithm: (\S+)/.exec(text)?.[1];
  const bits = Number(/Public-Key: \((\d+) bit\)/.exec(text)?.[1] ?? 0);
  const ok = (alg === 'id-ecPublicKey' && bits >= 256) || (alg === 'rsaEncryption' && bits >= 2048);
  if (!ok) throw refuse(`its key is ${alg ?? 'unknown'} ${bits} bit; expected EC P-256 or better, or RSA of at least 2048 bit`);
}

/** Signs a CSR already checked with checkCsr; returns the certificate PEM. */
export async function signCsr(caDir: string, csr: string, o: IssueOptions): Promise<string> {
  const name = checkName(o.name);
  const sans = parseSans(o.san && o.san.length > 0 ? o.san : [name]);
  const days = checkDays(o.days ?? 825, 'days');
  const tmp = await mkdtemp(join(tmpdir(), 'vmanage-sign-'));
  try {
    const ext = join(tmp, 'ext.cnf');
    await writeFile(ext, `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n${sanLine(sans)}`);
    return await openssl(['x509', '-req', '-CA', join(caDir, CA_CERT), '-CAkey', join(caDir, CA_KEY), '-set_serial', `0x${randomBytes(16).toString('hex')}`,
      '-days', String(days), '-sha256', '-extfile', ext], { input: csr });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Issues a key and certificate for name on the CA machine (the leader's own, or a host set up by
 * hand), written as NAME.key (0600) and NAME.crt in outDir (default: the CA directory).
 */
export async function issueCert(caDir: string, o: IssueOptions & { outDir?: string }): Promise<{ certPath: string; keyPath: string }> {
  const name = checkName(o.name);
  readCaCert(caDir);
  const outDir = o.outDir ?? caDir;
  mkdirSync(outDir, { recursive: true, mode: 0o700 });
  const keyPath = join(outDir, `${name}.key`);
  const certPath = join(outDir, `${name}.crt`);
  if (existsSync(keyPath) || existsSync(certPath)) throw new VmanageError(ErrorCodes.PkiFailed, `${keyPath} or ${certPath} exists; refusing to replace it`, { name });
  const key = await newKey();
  const cert = await signCsr(caDir, await makeCsr(key, name), o);
  writeKey(keyPath, key);
  writeFileSync(certPath, cert, { mode: 0o644 });
  return { certPath, keyPath };
}
