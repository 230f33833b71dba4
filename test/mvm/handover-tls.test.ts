// Session handover between host daemons over TCP + mutual TLS, configured as in production
// (PEM file paths in the mvm configuration): the destination accepts a state from a peer with a
// certificate of the cluster CA and refuses one from a rogue CA.
import test from 'ava';
import { join } from 'node:path';
import { systemClock } from '../../src/adapters/clock.js';
import { HandoverClient, HandoverServer } from '../../src/adapters/guests/handover-endpoint.js';
import { parseMvmConfig } from '../../src/daemons/mvm/config.js';
import { connectorFor, listenerFor } from '../../src/daemons/mvm/mvm.js';
import type { SessionState } from '../../src/mchannel/state.js';
import { makeCa, makeLeaf } from '../mchannel/certs.js';
import { freePort, tempDir } from '../support/proc.js';

const VM = '6f1c1f0e-4f0c-4c4e-9a51-2f6c3c1d0a11';
const state: SessionState = { version: 1, sessionId: 's', role: 'host', incarnation: 'i', peerIncarnation: 'p', nextSeq: 1, received: 9, peerAck: 0, replay: [], nextRequestId: 0 };

test('a handed-over state crosses mutual TLS from a cluster peer, not from a rogue one', async (t) => {
  const dir = await tempDir(t);
  makeCa(dir, 'cluster');
  makeCa(dir, 'rogue');
  const files = (ca: string, cn: string): { ca: string; cert: string; key: string } => {
    makeLeaf(dir, ca, cn, cn);
    return { ca: join(dir, 'cluster.crt'), cert: join(dir, `${ca}-${cn}.crt`), key: join(dir, `${ca}-${cn}.key`) };
  };
  const port = await freePort();
  const b = parseMvmConfig({ host: 'b', hypervisor: {}, handover: { listen: { tls: { host: '127.0.0.1', port, ...files('cluster', 'host-b') } } } });
  const a = parseMvmConfig({ host: 'a', hypervisor: {}, handover: { peers: [{ name: 'b', tls: { host: '127.0.0.1', port, serverName: 'host-b', ...files('cluster', 'host-a') } }] } });
  const got: { vm: string; from: string }[] = [];
  const server = new HandoverServer({ listener: await listenerFor(b.handover.listen!), clock: systemClock, accept: (vm, _s, from) => got.push({ vm, from }) });
  t.teardown(() => server.close());

  const good = new HandoverClient(a.handover.peers.map((p) => ({ name: p.name, connector: connectorFor(p) })), systemClock, 3000);
  await good.send(VM, state, 'b');
  t.deepEqual(got, [{ vm: VM, from: 'host-a' }], 'the sender is known by its certificate');

  const rogueFiles = files('rogue', 'host-x');
  const rogue = new HandoverClient([{ name: 'b', connector: connectorFor({ tls: { host: '127.0.0.1', port, serverName: 'host-b', ...rogueFiles } }) }], systemClock, 1000);
  await t.throwsAsync(rogue.send(VM, state, 'b'), { code: 'UNAVAILABLE' });
  t.is(got.length, 1);
});
