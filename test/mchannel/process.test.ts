import test from 'ava';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { Channel, tlsConnector, unixConnector, type Connector, type Incoming } from '../../src/mchannel/index.js';
import { startProcess, tempDir, type Started } from '../support/proc.js';
import { fixtureRegistry } from './fixtures/registry.js';
import { makeCa, makeLeaf } from './certs.js';
import { until } from './helpers.js';

const peerScript = join(import.meta.dirname, 'fixtures', 'peer.ts');
const hookBody = { object: 'qemu', operation: 'start', subOperation: 'begin', extra: '-', vm: { uuid: '4dea22b3-1d52-d8f3-2516-782e98ab3fa0', name: 'vm1' } };

async function startPeer(t: Parameters<typeof startProcess>[0], args: string[]): Promise<{ proc: Started; address: string }> {
  const proc = await startProcess(t, process.execPath, ['--import', 'tsx', peerScript, ...args], { ready: /listening \S+/ });
  const address = /listening (\S+)/.exec(proc.output())?.[1] ?? '';
  return { proc, address };
}

function pongs(ch: Channel): number[] {
  const out: number[] = [];
  void (async () => { for await (const m of ch as AsyncIterable<Incoming>) out.push((m.body as { n: number }).n); })();
  return out;
}

async function exchange(t: Parameters<typeof startProcess>[0] & { is: (a: unknown, b: unknown) => void; deepEqual: (a: unknown, b: unknown) => void }, connector: Connector): Promise<Channel> {
  const ch = Channel.client(connector, { role: 'agent', validator: fixtureRegistry, backoffMinMs: 20, backoffMaxMs: 200, heartbeatMs: 200, deadAfterMs: 2000 });
  t.teardown(() => ch.close());
  await ch.whenConnected();
  const got = pongs(ch);
  for (let n = 0; n < 200; n++) await ch.send('test.ping', { n });
  await until('200 pongs', () => got.length === 200);
  t.deepEqual(got, [...Array(200).keys()]);
  return ch;
}

test('two processes talk over a unix socket, and a restarted server is reconnected to', async (t) => {
  const dir = await tempDir(t);
  const sock = join(dir, 'host.sock');
  const first = await startPeer(t, ['unix', sock]);
  t.is(first.address, sock);
  const ch = await exchange(t, unixConnector(sock));
  t.deepEqual(await ch.request('hook.event', hookBody), { allow: true, reason: 'peer fixture' });
  const resets: string[] = [];
  ch.events.on('reset', (r) => resets.push(r.reason));
  await first.proc.stop('SIGKILL');
  await until('disconnected', () => ch.state !== 'connected');
  await startPeer(t, ['unix', sock]);
  await ch.whenConnected();
  t.deepEqual(await ch.request('hook.event', { ...hookBody, operation: 'migrate' }, { timeoutMs: 5000 }), { allow: false, reason: 'peer fixture' });
  t.deepEqual(resets, ['peer restarted its outgoing stream']);
  t.is(ch.counters.gaps, 0);
});

test('two processes talk over mutual TLS on 127.0.0.1 and each side sees the other certificate CN', async (t) => {
  const dir = await tempDir(t);
  const ca = makeCa(dir, 'cluster-ca');
  const leader = makeLeaf(dir, 'cluster-ca', 'leader', 'leader');
  const host = makeLeaf(dir, 'cluster-ca', 'host-1');
  writeFileSync(join(dir, 'ca.pem'), ca.cert);
  writeFileSync(join(dir, 'leader.pem'), leader.cert);
  writeFileSync(join(dir, 'leader.key'), leader.key);
  const peer = await startPeer(t, ['tls', join(dir, 'ca.pem'), join(dir, 'leader.pem'), join(dir, 'leader.key')]);
  const port = Number(peer.address.split(':')[1]);
  const ch = await exchange(t, tlsConnector({ host: '127.0.0.1', port, serverName: 'leader', ca: ca.cert, cert: host.cert, key: host.key }));
  t.is(ch.peer?.transport, 'tls');
  t.is(ch.peer?.id, 'leader');
  t.deepEqual(await ch.request('hook.event', hookBody), { allow: true, reason: 'peer host-1' });
});
