// Certificates for the heartbeat benchmark: a cluster CA and one leaf per simulated host (CN =
// host id, the identity the leader checks against the registration), thousands of them in a
// second. openssl would cost a process per certificate; X.509 is small enough to encode here:
// DER by hand, ECDSA P-256 / SHA-256 signatures from node:crypto. Bench-only: the product's PKI
// is src/adapters/pki (openssl). All leaves share one key (the leader verifies chains, not keys).
import { createPrivateKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

const der = (tag: number, body: Buffer): Buffer => {
  const n = body.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
};
const seq = (...xs: Buffer[]): Buffer => der(0x30, Buffer.concat(xs));
const oid = (hex: string): Buffer => der(0x06, Buffer.from(hex, 'hex'));
const ECDSA_SHA256 = seq(oid('2a8648ce3d040302'));
const CN = oid('550403');

function utcTime(d: Date): Buffer {
  const p = (x: number): string => String(x).padStart(2, '0');
  return der(0x17, Buffer.from(`${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`));
}

const name = (cn: string): Buffer => seq(der(0x31, seq(CN, der(0x0c, Buffer.from(cn)))));

function serial(): Buffer {
  const b = randomBytes(16);
  b[0] = ((b[0] as number) & 0x3f) | 0x40; // positive and minimal (DER: no leading zero byte)
  return der(0x02, b);
}

/** CA:TRUE (critical) and keyUsage keyCertSign | cRLSign (critical). */
const CA_EXTENSIONS = der(0xa3, seq(
  seq(oid('551d13'), der(0x01, Buffer.from([0xff])), der(0x04, seq(der(0x01, Buffer.from([0xff]))))),
  seq(oid('551d0f'), der(0x01, Buffer.from([0xff])), der(0x04, der(0x03, Buffer.from([0x01, 0x06])))),
));

function certificate(subject: string, issuer: string, spki: Buffer, signer: KeyObject, ca: boolean): string {
  const now = Date.now();
  const tbs = seq(
    der(0xa0, der(0x02, Buffer.from([2]))), serial(), ECDSA_SHA256, name(issuer),
    seq(utcTime(new Date(now - 3600_000)), utcTime(new Date(now + 7 * 86_400_000))), name(subject), spki,
    ...(ca ? [CA_EXTENSIONS] : []),
  );
  const sig = sign('sha256', tbs, signer);
  const cert = seq(tbs, ECDSA_SHA256, der(0x03, Buffer.concat([Buffer.from([0]), sig])));
  return `-----BEGIN CERTIFICATE-----\n${cert.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`;
}

export interface BenchPki {
  readonly caPem: string;
  /** Certificate and key for `name` (the leader's: CN = "leader"). */
  leaf(name: string): { cert: string; key: string };
}

export function benchPki(): BenchPki {
  const ca = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const caPem = certificate('vmanage-bench-ca', 'vmanage-bench-ca', ca.publicKey.export({ type: 'spki', format: 'der' }), ca.privateKey, true);
  const leafKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = leafKey.publicKey.export({ type: 'spki', format: 'der' });
  const keyPem = leafKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  createPrivateKey(keyPem); // fails loudly here rather than in a child
  return { caPem, leaf: (n) => ({ cert: certificate(n, 'vmanage-bench-ca', spki, ca.privateKey, false), key: keyPem }) };
}
