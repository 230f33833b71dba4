// Certificate names: the CN is the identity a peer proves over mTLS (a host's id, the leader's
// name), so it is restricted to a DNS-like label set that cannot smuggle a second RDN, a wildcard
// or a control character into a subject. Subject alternative names are DNS names or IP addresses.
import { isIP } from 'node:net';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';

/** A host or leader name usable as a certificate CN: 1-64 of A-Z a-z 0-9 . _ - (starting alnum). */
export const CERT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$/;

export function checkName(name: string, what = 'name'): string {
  if (typeof name !== 'string' || !CERT_NAME.test(name)) {
    throw new VmanageError(ErrorCodes.InvalidInput, `${what}: expected 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit, got ${JSON.stringify(name)?.slice(0, 80)}`, { what });
  }
  return name;
}

export interface San { readonly kind: 'DNS' | 'IP'; readonly value: string }

/** "10.0.0.5" -> IP, "host-1.example" -> DNS; anything else is refused. At most 32 entries. */
export function parseSans(values: readonly string[]): San[] {
  if (values.length > 32) throw new VmanageError(ErrorCodes.InvalidInput, `san: at most 32 names, got ${values.length}`, {});
  return values.map((v) => {
    const s = v.trim().replace(/^(DNS|IP):/i, '');
    if (isIP(s)) return { kind: 'IP', value: s };
    if (DNS_NAME.test(s)) return { kind: 'DNS', value: s };
    throw new VmanageError(ErrorCodes.InvalidInput, `san: ${JSON.stringify(v).slice(0, 80)} is neither a DNS name nor an IP address`, { san: v.slice(0, 80) });
  });
}

/** The openssl extension line, e.g. "subjectAltName=DNS:h1,IP:10.0.0.5". */
export function sanLine(sans: readonly San[]): string {
  return sans.length === 0 ? '' : `subjectAltName=${sans.map((s) => `${s.kind}:${s.value}`).join(',')}\n`;
}
