// vmanagectl against a leader whose API requires TLS client certificates (mTLS), with a cluster CA
// and certificates made by the project's own CA code (openssl CLI).
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostView } from '../../src/daemons/leader/api.js';
import { initCa, issueCert } from '../../src/adapters/pki/ca.js';
import { tempDir } from '../support/proc.js';
import { startCluster, uuidOf } from '../leader-http/support.js';
import { ctl, ctlBundle, json } from './support.js';

test.before(async () => { await ctlBundle(); });

test('with the CA and a client certificate vmanagectl reaches an mTLS leader; without one it is refused', async (t) => {
  const dir = await tempDir(t, 'vmanage-http-tls-');
  const ca = join(dir, 'ca');
  await initCa(ca);
  const server = await issueCert(ca, { name: 'cl1', san: ['127.0.0.1', 'localhost'], outDir: join(dir, 'leader') });
  const client = await issueCert(ca, { name: 'operator', outDir: join(dir, 'operator') });
  const caCert = join(ca, 'ca.crt');
  const c = await startCluster(t, {
    hosts: { h1: [{ uuid: uuidOf(1), cpuUtil: 0.4 }] },
    http: { tls: { ca: readFileSync(caCert), cert: readFileSync(server.certPath), key: readFileSync(server.keyPath), requireClientCert: true } },
  });
  t.regex(c.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const ok = await ctl(['hosts', '--json', '--leader', c.url, '--ca', caCert, '--cert', client.certPath, '--key', client.keyPath]);
  t.is(ok.code, 0, ok.err);
  t.deepEqual(json<HostView[]>(ok).map((h) => h.id), ['h1']);

  const noCert = await ctl(['hosts', '--leader', c.url, '--ca', caCert]);
  t.is(noCert.code, 1);
  t.regex(noCert.err, new RegExp(`^vmanagectl: cannot reach the leader at ${c.url.replace(/\./g, '\\.')}: `));
  const noCa = await ctl(['hosts', '--leader', c.url, '--cert', client.certPath, '--key', client.keyPath]);
  t.is(noCa.code, 1, 'the leader\'s certificate is not trusted without --ca');
  t.regex(noCa.err, /cannot reach the leader .*(SELF_SIGNED|UNABLE_TO_VERIFY|unable to)/i);
  const missing = await ctl(['hosts', '--leader', c.url, '--ca', join(dir, 'nope.crt')]);
  t.is(missing.code, 2);
  t.regex(missing.err, /cannot read the CA certificate \(--ca\) .*nope\.crt: ENOENT/);
});
