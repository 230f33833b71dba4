// The xenstore M-channel transport between a dom0 Listener and a guest Connector, both talking
// to the test xenstored over real unix sockets (the guest through a socket that acts as its domid).
import test, { type ExecutionContext } from 'ava';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { connectXenstoreSocket } from '../../src/adapters/xen/connect.js';
import type { XenstoreClient } from '../../src/adapters/xen/client.js';
import type { VmanageError } from '../../src/domain/errors.js';
import { XenstoreConnector, XenstoreListener } from '../../src/mchannel/transports/xenstore.js';
import { DEFAULT_CHUNK_BYTES, DEFAULT_SLOTS } from '../../src/mchannel/transports/xenstore-ring.js';
import type { Connection } from '../../src/mchannel/types.js';
import { startXenstored, type TestXenstored } from '../support/xenstored.js';
import { waitFor } from '../support/proc.js';

const UUID = '6f1c2b7a-3d4e-4f50-8a9b-0c1d2e3f4a5b';

interface Rig {
  xsd: TestXenstored;
  dom0: XenstoreClient;
  listener: XenstoreListener;
  guest(domid: number): Promise<{ xs: XenstoreClient; connector: XenstoreConnector }>;
  nextConnection(): Promise<Connection>;
  errors: Error[];
}

async function rig(t: ExecutionContext, domids: number[] = [5]): Promise<Rig> {
  const xsd = await startXenstored(t);
  const dom0 = await connectXenstoreSocket(xsd.socketPath);
  t.teardown(() => dom0.close());
  const errors: Error[] = [];
  const listener = new XenstoreListener(dom0, { onError: (_d, err) => errors.push(err) });
  t.teardown(() => listener.close());
  const queue: Connection[] = [];
  const waiters: ((c: Connection) => void)[] = [];
  listener.onConnection((c) => {
    t.teardown(() => c.stream.destroy());
    const w = waiters.shift();
    if (w) w(c);
    else queue.push(c);
  });
  for (const d of domids) {
    await xsd.guestSocket(d);
    await dom0.write(`/local/domain/${d}/vm`, `/vm/${d === 5 ? UUID : `00000000-0000-0000-0000-00000000000${d}`}`);
    await listener.serve(d);
  }
  return {
    xsd, dom0, listener, errors,
    guest: async (domid) => {
      const xs = await connectXenstoreSocket(await xsd.guestSocket(domid));
      t.teardown(() => xs.close());
      return { xs, connector: new XenstoreConnector(xs, { acceptTimeoutMs: 3000 }) };
    },
    nextConnection: async () => queue.shift() ?? (await new Promise<Connection>((r) => waiters.push(r))),
  };
}

async function readBytes(stream: Duplex, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  while (got < n) {
    const chunk = stream.read() as Buffer | null;
    if (chunk) { parts.push(chunk); got += chunk.length; continue; }
    await once(stream, 'readable');
  }
  return Buffer.concat(parts);
}

async function connectPair(r: Rig, domid = 5): Promise<{ g: Connection; h: Connection; xs: XenstoreClient; connector: XenstoreConnector }> {
  const { xs, connector } = await r.guest(domid);
  const [g, h] = await Promise.all([connector.connect(), r.nextConnection()]);
  return { g, h, xs, connector };
}

test('a guest connects and lines flow both ways; the host knows the VM from the path', async (t) => {
  const r = await rig(t);
  const { g, h } = await connectPair(r);
  t.is(h.peer.transport, 'xenstore');
  t.is(h.peer.id, UUID);
  t.is(h.peer.details?.['domid'], 5);
  t.is(g.peer.id, 'dom0');
  g.stream.write('{"kind":"hello"}\n');
  t.is((await readBytes(h.stream, 17)).toString(), '{"kind":"hello"}\n');
  h.stream.write('{"kind":"welcome"}\n');
  t.is((await readBytes(g.stream, 19)).toString(), '{"kind":"welcome"}\n');
});

test('a transfer much larger than the ring arrives intact and in order both ways', async (t) => {
  const r = await rig(t);
  const { g, h } = await connectPair(r);
  const big = Buffer.from(Array.from({ length: 6000 }, (_, i) => `line ${i}\n`).join(''));
  g.stream.write(big);
  h.stream.write(big);
  const [atHost, atGuest] = await Promise.all([readBytes(h.stream, big.length), readBytes(g.stream, big.length)]);
  t.true(atHost.equals(big));
  t.true(atGuest.equals(big));
  t.true(r.listener.stats.chunksIn > 16);
});

test('a reader that stops reading stops the writer at one ring of unread data', async (t) => {
  const r = await rig(t);
  const { g, h, connector } = await connectPair(r);
  h.stream.pause();
  const payload = Buffer.alloc(200_000, 0x61);
  let written = false;
  g.stream.write(payload, () => { written = true; });
  // Wait until the writer has stalled: no progress across several round trips to the store.
  const ringBytes = DEFAULT_SLOTS * DEFAULT_CHUNK_BYTES;
  for (let prev = -1; prev !== connector.stats.bytesOut;) {
    prev = connector.stats.bytesOut;
    for (let i = 0; i < 5; i++) await r.dom0.read('/local/domain/5/vmanage/connect');
  }
  t.false(written);
  // One ring in the store plus at most one ring the paused reader already took in.
  t.true(connector.stats.bytesOut >= ringBytes && connector.stats.bytesOut <= 2 * ringBytes, String(connector.stats.bytesOut));
  const got = await readBytes(h.stream, payload.length);
  t.is(got.length, payload.length);
  t.true(written);
});

test('a new connection from the guest replaces the old one: the old stream closes, the new one works', async (t) => {
  const r = await rig(t);
  const first = await connectPair(r);
  const closed = once(first.h.stream, 'close');
  const [g2, h2] = await Promise.all([first.connector.connect(), r.nextConnection()]);
  await closed;
  t.is(h2.peer.details?.['generation'], g2.peer.details?.['generation']);
  t.not(h2.peer.details?.['generation'], first.h.peer.details?.['generation']);
  g2.stream.write('again\n');
  t.is((await readBytes(h2.stream, 6)).toString(), 'again\n');
  await first.xs.read('vmanage/connect');
  t.deepEqual((await r.dom0.directory('/local/domain/5/vmanage')).sort(), ['accept', `c${String(g2.peer.details?.['generation'])}`, 'connect'].sort(), 'the old ring is gone and not re-created');
});

test('ending one direction delivers end of stream to the other side', async (t) => {
  const r = await rig(t);
  const { g, h } = await connectPair(r);
  g.stream.end('bye\n');
  h.stream.resume();
  await once(h.stream, 'end');
  t.pass();
});

test('two guests get separate connections, each identified by its own path', async (t) => {
  const r = await rig(t, [5, 6]);
  const a = await connectPair(r, 5);
  const b = await connectPair(r, 6);
  t.is(a.h.peer.details?.['domid'], 5);
  t.is(b.h.peer.details?.['domid'], 6);
  b.g.stream.write('from six\n');
  t.is((await readBytes(b.h.stream, 9)).toString(), 'from six\n');
  t.is(a.h.stream.readableLength, 0);
});

test('a guest cannot reach another guest\'s channel nodes', async (t) => {
  const r = await rig(t, [5, 6]);
  const { xs } = await r.guest(6);
  const err = await t.throwsAsync<VmanageError>(xs.write('/local/domain/5/vmanage/connect', '9'));
  t.is(err?.code, 'PERMISSION_DENIED');
});

test('connecting when dom0 does not serve the VM fails with Unavailable', async (t) => {
  const r = await rig(t, []);
  const { connector } = await r.guest(9);
  const err = await t.throwsAsync<VmanageError>(connector.connect());
  t.is(err?.code, 'UNAVAILABLE');
});

const hostile: [string, (xs: XenstoreClient, ring: string) => Promise<void>][] = [
  ['a producer counter that is not a number', (xs, ring) => xs.write(`${ring}/prod`, 'lots')],
  ['a producer counter beyond one ring ahead', (xs, ring) => xs.write(`${ring}/prod`, '999')],
  ['a slot larger than the slot size', async (xs, ring) => { await xs.write(`${ring}/0`, Buffer.alloc(DEFAULT_CHUNK_BYTES + 1, 1)); await xs.write(`${ring}/prod`, '1'); }],
  ['an empty slot', async (xs, ring) => { await xs.write(`${ring}/0`, ''); await xs.write(`${ring}/prod`, '1'); }],
];

for (const [what, attack] of hostile) {
  test(`a guest writing ${what} gets its connection closed with a protocol violation, and can connect again`, async (t) => {
    const r = await rig(t);
    const { h, xs, connector } = await connectPair(r);
    const failed = once(h.stream, 'error');
    await attack(xs, `vmanage/c${String(h.peer.details?.['generation'])}/g2h`);
    const [err] = (await failed) as [VmanageError];
    t.is(err.code, 'PROTOCOL_VIOLATION');
    t.is(r.listener.stats.violations, 1);
    const [g2, h2] = await Promise.all([connector.connect(), r.nextConnection()]);
    g2.stream.write('ok\n');
    t.is((await readBytes(h2.stream, 3)).toString(), 'ok\n');
  });
}

test('a garbage connect generation is counted and ignored', async (t) => {
  const r = await rig(t);
  const { xs } = await r.guest(5);
  await xs.write('vmanage/connect', '-1; rm -rf /');
  await r.dom0.read('/local/domain/5/vmanage/connect');
  while (r.listener.stats.badConnects === 0) await new Promise((res) => setImmediate(res));
  t.is(r.listener.stats.connections, 0);
  t.is(r.errors.length, 1);
});

test('a listener that follows domains serves guests as they are introduced and drops them when released', async (t) => {
  const r = await rig(t, []);
  await r.listener.followDomains();
  const { connector } = await r.guest(7);
  // The agent would retry until the host serves it; here, wait for the host's permissions.
  while (!(await r.dom0.getPerms('/local/domain/7/vmanage').catch(() => [] as string[])).includes('b7'));
  const [g, h] = await Promise.all([connector.connect(), r.nextConnection()]);
  t.is(h.peer.details?.['domid'], 7);
  g.stream.write('hi\n');
  t.is((await readBytes(h.stream, 3)).toString(), 'hi\n');
  const closed = once(h.stream, 'close');
  r.xsd.fixture.releaseDomain(7);
  await closed;
  t.pass();
});

test('a connector built from an opener reopens its xenstore connection after it closed', async (t) => {
  const r = await rig(t);
  const path = await r.xsd.guestSocket(5);
  const opened: XenstoreClient[] = [];
  const connector = new XenstoreConnector(async () => {
    const c = await connectXenstoreSocket(path);
    t.teardown(() => c.close());
    opened.push(c);
    return c;
  });
  await Promise.all([connector.connect(), r.nextConnection()]);
  opened[0]!.close();
  const [g, h] = await Promise.all([connector.connect(), r.nextConnection()]);
  t.is(opened.length, 2);
  g.stream.write('back\n');
  t.is((await readBytes(h.stream, 5)).toString(), 'back\n');
});

test('a guest flooding its connect node costs the host one pending run, and a real connect still works', async (t) => {
  const r = await rig(t);
  const { xs, connector } = await r.guest(5);
  await Promise.all(Array.from({ length: 300 }, (_, i) => xs.write('vmanage/connect', String(i + 1))));
  const g = await connector.connect();
  let h = await r.nextConnection();
  while (h.peer.details?.['generation'] !== g.peer.details?.['generation']) h = await r.nextConnection();
  g.stream.write('still here\n');
  t.is((await readBytes(h.stream, 11)).toString(), 'still here\n');
  t.true(r.listener.stats.connections < 300, `${r.listener.stats.connections} connections for 301 connect writes`);
});

test('a host daemon that restarts while a guest is connected makes the guest reconnect on a fresh ring', async (t) => {
  const r = await rig(t);
  const { g, connector } = await connectPair(r);
  r.dom0.close(); // the host daemon dies without cleaning up
  const guestSaw = once(g.stream, 'close');
  const dom0 = await connectXenstoreSocket(r.xsd.socketPath);
  t.teardown(() => dom0.close());
  const restarted = new XenstoreListener(dom0);
  t.teardown(() => restarted.close());
  const accepted = new Promise<Connection>((res) => restarted.onConnection(res));
  await restarted.serve(5);
  await guestSaw;
  const [g2, h2] = await Promise.all([connector.connect(), accepted]);
  t.teardown(() => h2.stream.destroy());
  t.is(h2.peer.details?.['generation'], g2.peer.details?.['generation']);
  g2.stream.write('fresh\n');
  t.is((await readBytes(h2.stream, 6)).toString(), 'fresh\n');
});

test('a listener built with an opener survives losing its xenstore connection and serves the guest again', async (t) => {
  const xsd = await startXenstored(t);
  await xsd.guestSocket(5);
  const opened: XenstoreClient[] = [];
  const listener = await XenstoreListener.reconnecting(async () => {
    const c = await connectXenstoreSocket(xsd.socketPath);
    t.teardown(() => c.close());
    opened.push(c);
    return c;
  }, { reconnectMinMs: 5 });
  t.teardown(() => listener.close());
  const conns: Connection[] = [];
  listener.onConnection((c) => { conns.push(c); t.teardown(() => c.stream.destroy()); });
  await listener.serve(5);
  const guestXs = await connectXenstoreSocket(await xsd.guestSocket(5));
  t.teardown(() => guestXs.close());
  const connector = new XenstoreConnector(guestXs);
  const g1 = await connector.connect();
  const guestSaw = once(g1.stream, 'close');
  opened[0]!.close(); // dom0's xenstore connection is lost
  await guestSaw; // the host removed the ring it can no longer serve, once reconnected
  const g2 = await connector.connect();
  t.is(listener.stats.reconnects, 1);
  const h2 = await waitFor('the host side of the new connection', () => conns.find((c) => c.peer.details?.['generation'] === g2.peer.details?.['generation']));
  g2.stream.write('back again\n');
  t.is((await readBytes(h2.stream, 11)).toString(), 'back again\n');
});
