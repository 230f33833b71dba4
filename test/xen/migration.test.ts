// A Xen-style live migration of a guest that streams reports over the xenstore transport: two
// hosts, each with its own test xenstored, listener and ChannelServer. On migration the guest's
// xenstore connection moves to the destination's xenstored under a new domid, its ring nodes do
// not move, the source host hands the session over as JSON and the destination resumes it.
import test from 'ava';
import { connectXenstoreSocket } from '../../src/adapters/xen/connect.js';
import { acceptAnything, Channel, ChannelServer, type Incoming } from '../../src/mchannel/index.js';
import { XenstoreConnector, XenstoreListener } from '../../src/mchannel/transports/xenstore.js';
import { waitFor } from '../support/proc.js';
import { startXenstored } from '../support/xenstored.js';

const base = { validator: acceptAnything, deadAfterMs: 60_000, heartbeatMs: 30_000 };

function collect(ch: Channel): Incoming[] {
  const out: Incoming[] = [];
  void (async () => { for await (const m of ch) out.push(m); })();
  return out;
}

async function host(t: Parameters<typeof startXenstored>[0], domid: number) {
  const xsd = await startXenstored(t);
  const dom0 = await connectXenstoreSocket(xsd.socketPath);
  t.teardown(() => dom0.close());
  const guestSocket = await xsd.guestSocket(domid);
  const listener = new XenstoreListener(dom0);
  const server = new ChannelServer(listener, { ...base, role: 'host' });
  t.teardown(() => server.close());
  await listener.serve(domid);
  return { xsd, server, guestSocket };
}

test('reports streamed across a migration to another host arrive exactly once and in order', async (t) => {
  const a = await host(t, 5);
  const b = await host(t, 9);
  let target = a.guestSocket;
  let gate: Promise<void> = Promise.resolve();
  const connector = new XenstoreConnector(async () => {
    await gate;
    const c = await connectXenstoreSocket(target);
    t.teardown(() => c.close());
    return c;
  });
  const hostAReady = new Promise<Channel>((r) => a.server.events.once('channel', r));
  const agent = Channel.client(connector, { ...base, role: 'agent', backoffMinMs: 5, backoffMaxMs: 50 });
  t.teardown(() => agent.close());
  const hostA = await hostAReady;
  const atA = collect(hostA);

  const n = 400;
  let migrated!: () => void;
  gate = new Promise<void>((r) => { migrated = r; }); // the guest is "paused" until the destination is ready
  let left!: () => void;
  const leftSource = new Promise<void>((r) => { left = r; });
  const sending = (async () => {
    for (let i = 0; i < n; i++) {
      if (i === n / 2) await leftSource; // the second half is sent while the guest is between hosts
      await agent.send('report', { i });
    }
  })();

  await waitFor('the source to receive some reports', () => atA.length >= 100);
  a.xsd.fixture.releaseDomain(5); // the guest leaves the source: its xenstore connection and nodes go
  left();
  await waitFor('the source to see the connection go', () => hostA.state !== 'connected');
  const state = JSON.parse(JSON.stringify(hostA.detach()));
  const hostB = b.server.resume(state);
  const atB = collect(hostB);
  target = b.guestSocket;
  migrated();

  await sending;
  await waitFor('every report to arrive', () => atA.length + atB.length >= n, 20_000);
  const all = [...atA, ...atB].map((m) => (m.body as { i: number }).i);
  t.deepEqual(all, Array.from({ length: n }, (_, i) => i));
  t.true(atB.length >= n / 2);
  t.is(hostB.peer?.details?.['domid'], 9);
  t.is(hostB.sessionId, agent.sessionId);
  t.is(hostB.counters.gaps + agent.counters.gaps, 0);
});
