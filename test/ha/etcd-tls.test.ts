// The etcd term over TLS with client certificates (etcd.tls in the leader config), against a real
// etcd that requires them; certificates made by the project's own CA commands.
import test from 'ava';
import { once } from 'node:events';
import { join } from 'node:path';
import { pino } from 'pino';
import { initCa, issueCert } from '../../src/adapters/pki/ca.js';
import { EtcdTerm } from '../../src/daemons/leader/etcd-term.js';
import { freePort, startProcess, tempDir } from '../support/proc.js';

test('the leader campaigns on an etcd that requires client certificates; a certificate from another CA gets nowhere', async (t) => {
  const dir = await tempDir(t, 'vmanage-etcd-tls-');
  const ca = join(dir, 'ca');
  const rogue = join(dir, 'rogue');
  await Promise.all([initCa(ca), initCa(rogue, { name: 'rogue-ca' })]);
  const [server, client, foreign] = await Promise.all([
    issueCert(ca, { name: 'etcd-1', san: ['etcd-1', '127.0.0.1'] }),
    issueCert(ca, { name: 'leader-a' }),
    issueCert(rogue, { name: 'leader-b' }),
  ]);
  const port = await freePort();
  const peer = `http://127.0.0.1:${await freePort()}`;
  const url = `https://127.0.0.1:${port}`;
  await startProcess(t, 'etcd', [
    '--name', 'n1', '--data-dir', join(dir, 'data'), '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `n1=${peer}`,
    '--cert-file', server.certPath, '--key-file', server.keyPath, '--client-cert-auth', '--trusted-ca-file', join(ca, 'ca.crt'), '--logger=zap',
  ], { ready: /serving client traffic/, readyTimeoutMs: 20_000 });
  const log = pino({ level: 'silent' });
  const good = new EtcdTerm({ endpoints: [url], name: 'tls', ttlSeconds: 3, tls: { ca: join(ca, 'ca.crt'), cert: client.certPath, key: client.keyPath } }, 'leader-a', log);
  t.teardown(() => good.stop());
  const elected = once(good.events, 'elected');
  await good.start();
  const [token] = await elected as [number];
  t.true(token > 0);
  await new Promise((r) => setTimeout(r, 1000));
  t.true(good.counters.leaseChecks >= 1, 'lease confirmations go through TLS too');
  const bad = new EtcdTerm({ endpoints: [url], name: 'tls', ttlSeconds: 3, tls: { ca: join(ca, 'ca.crt'), cert: foreign.certPath, key: foreign.keyPath } }, 'leader-b', log);
  t.teardown(() => bad.stop());
  let badLeader: string | undefined = 'not asked';
  bad.events.on('leader', (id) => { badLeader = id; });
  await bad.start();
  await good.stop();
  // With the etcd leader gone, a candidate that could talk to etcd would lead within the TTL.
  await new Promise((r) => setTimeout(r, 4000));
  t.is(bad.token, undefined);
  t.is(badLeader, 'not asked', 'it never even learnt who leads');
  t.true(bad.counters.observerErrors >= 1);
});
