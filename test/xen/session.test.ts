// M-channel sessions over the xenstore transport: a guest agent's Channel.client and a host's
// ChannelServer, both through the test xenstored over real unix sockets.
import test, { type ExecutionContext } from 'ava';
import { connectXenstoreSocket } from '../../src/adapters/xen/connect.js';
import type { XenstoreClient } from '../../src/adapters/xen/client.js';
import { acceptAnything, Channel, ChannelServer, type Connection, type Connector } from '../../src/mchannel/index.js';
import { XenstoreConnector, XenstoreListener } from '../../src/mchannel/transports/xenstore.js';
import { startXenstored } from '../support/xenstored.js';
import { waitFor } from '../support/proc.js';

const UUID = '0b9d2f4e-1c3a-4e5b-8d7f-6a5b4c3d2e1f';

interface Session {
  agent: Channel;
  host: Channel;
  guestXs: XenstoreClient;
  listener: XenstoreListener;
  /** The guest's current connection (the test may break it). */
  current(): Connection;
}

async function session(t: ExecutionContext): Promise<Session> {
  const xsd = await startXenstored(t);
  const dom0 = await connectXenstoreSocket(xsd.socketPath);
  t.teardown(() => dom0.close());
  await xsd.guestSocket(5);
  await dom0.write('/local/domain/5/vm', `/vm/${UUID}`);
  const listener = new XenstoreListener(dom0);
  const server = new ChannelServer(listener, { role: 'host', validator: acceptAnything });
  t.teardown(() => server.close());
  const hostReady = new Promise<Channel>((r) => server.events.once('channel', r));
  await listener.serve(5);

  const guestXs = await connectXenstoreSocket(await xsd.guestSocket(5));
  t.teardown(() => guestXs.close());
  const inner = new XenstoreConnector(guestXs);
  let last: Connection | undefined;
  const recording: Connector = {
    kind: inner.kind,
    target: inner.target,
    connect: async (signal) => (last = await inner.connect(signal)),
  };
  const agent = Channel.client(recording, { role: 'agent', validator: acceptAnything, backoffMinMs: 5, backoffMaxMs: 50 });
  t.teardown(() => agent.close());
  await agent.whenConnected();
  return { agent, host: await hostReady, guestXs, listener, current: () => last! };
}

async function take(ch: Channel, n: number): Promise<unknown[]> {
  const out: unknown[] = [];
  if (n === 0) return out;
  for await (const m of ch) {
    out.push(m.body);
    if (out.length === n) break;
  }
  return out;
}

test('an agent and its host exchange messages and requests; the host knows the VM from the path', async (t) => {
  const s = await session(t);
  t.is(s.host.peer?.id, UUID);
  s.host.handle('ping', (body) => ({ pong: body }));
  t.deepEqual(await s.agent.request('ping', { n: 1 }), { pong: { n: 1 } });
  await s.agent.send('sla', { state: 'ok' });
  t.deepEqual(await take(s.host, 1), [{ state: 'ok' }]);
  await s.host.send('cap', { watts: 120 });
  t.deepEqual(await take(s.agent, 1), [{ watts: 120 }]);
});

test('reports sent across a broken connection arrive exactly once and in order after the agent reconnects', async (t) => {
  const s = await session(t);
  const n = 300;
  const received = take(s.host, n);
  for (let i = 0; i < n; i++) {
    if (i === 100) s.current().stream.destroy();
    await s.agent.send('report', { i });
  }
  const got = (await received) as { i: number }[];
  t.deepEqual(got.map((b) => b.i), Array.from({ length: n }, (_, i) => i));
  t.true(s.agent.counters.connects >= 2);
});

test('a guest that corrupts its ring mid-session loses that connection only; the session resumes without loss', async (t) => {
  const s = await session(t);
  const n = 200;
  const got: number[] = [];
  const reading = (async () => { for await (const m of s.host) if (got.push((m.body as { i: number }).i) === n) break; })();
  for (let i = 0; i < n; i++) {
    if (i === 80) {
      // Once the ring is idle (the host has everything so far), the guest's own writer will not
      // overwrite the bad counter before the host reads it.
      await waitFor('the host to have the first 80', () => got.length === 80);
      const gen = s.current().peer.details?.['generation'] as number;
      await s.guestXs.write(`vmanage/c${gen}/g2h/prod`, 'garbage');
      await waitFor('the host to refuse the ring', () => s.listener.stats.violations === 1);
    }
    await s.agent.send('report', { i });
  }
  await reading;
  t.deepEqual(got, Array.from({ length: n }, (_, i) => i));
  t.true(s.agent.counters.connects >= 2);
});
