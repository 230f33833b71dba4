// Test PKI made with the openssl CLI in a temp dir: a cluster CA, a rogue CA, and certificates
// (EC P-256, valid one day) signed by either.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Pem { cert: string; key: string }

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

export function makeCa(dir: string, name: string): Pem {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.crt`, '-subj', `/CN=${name}`, '-days', '1']);
  return { cert: readFileSync(join(dir, `${name}.crt`), 'utf8'), key: readFileSync(join(dir, `${name}.key`), 'utf8') };
}

/** A leaf certificate for cn signed by ca (named caName in dir); san adds a DNS subjectAltName. */
export function makeLeaf(dir: string, caName: string, cn: string, san?: string): Pem {
  const base = `${caName}-${cn}`;
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${cn}`]);
  const ext = join(dir, `${base}.ext`);
  writeFileSync(ext, `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n${san ? `subjectAltName=DNS:${san}\n` : ''}`);
  openssl(dir, ['x509', '-req', '-in', `${base}.csr`, '-CA', `${caName}.crt`, '-CAkey', `${caName}.key`, '-CAcreateserial',
    '-out', `${base}.crt`, '-days', '1', '-extfile', ext]);
  return { cert: readFileSync(join(dir, `${base}.crt`), 'utf8'), key: readFileSync(join(dir, `${base}.key`), 'utf8') };
}
