// The leader configuration's `http` section turned into the API server's options.
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpOptionsFrom } from '../../src/daemons/leader/http.js';
import { tempDir } from '../support/proc.js';
import { quiet } from './support.js';

test('plain http takes host and port; tls reads the files; a CA means client certificates are required', async (t) => {
  const dir = await tempDir(t);
  for (const f of ['c.pem', 'k.pem', 'ca.pem']) writeFileSync(join(dir, f), `${f}\n`);
  const plain = httpOptionsFrom({ host: '0.0.0.0', port: 8470 }, quiet);
  t.like(plain, { host: '0.0.0.0', port: 8470 });
  t.is(plain.tls, undefined);
  const server = httpOptionsFrom({ host: 'h', port: 1, tls: { cert: join(dir, 'c.pem'), key: join(dir, 'k.pem') } }, quiet);
  t.is(server.tls?.requireClientCert, false);
  t.is(String(server.tls?.cert), 'c.pem\n');
  const mutual = httpOptionsFrom({ host: 'h', port: 1, tls: { cert: join(dir, 'c.pem'), key: join(dir, 'k.pem'), ca: join(dir, 'ca.pem') } }, quiet);
  t.is(mutual.tls?.requireClientCert, true);
  t.is(String(mutual.tls?.ca), 'ca.pem\n');
  t.throws(() => httpOptionsFrom({ host: 'h', port: 1, tls: { cert: join(dir, 'none.pem'), key: join(dir, 'k.pem') } }, quiet), {
    message: new RegExp(`^http\\.tls\\.cert: cannot read ${dir}/none\\.pem: ENOENT`),
  });
});
