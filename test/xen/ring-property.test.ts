// Property tests of the xenstore transport: any sequence of writes arrives as the same bytes, and
// a guest writing anything to any of its channel nodes never breaks the host: errors are typed,
// counted, and the guest can always connect again afterwards.
import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { connectXenstoreSocket } from '../../src/adapters/xen/connect.js';
import type { XenstoreClient } from '../../src/adapters/xen/client.js';
import { XenstoreConnector, XenstoreListener } from '../../src/mchannel/transports/xenstore.js';
import type { Connection } from '../../src/mchannel/types.js';
import { startXenstored } from '../support/xenstored.js';

interface Rig { guestXs: XenstoreClient; listener: XenstoreListener; connector: XenstoreConnector; pair(): Promise<[Connection, Connection]>; errors: Error[] }

async function rig(t: ExecutionContext): Promise<Rig> {
  const xsd = await startXenstored(t);
  const dom0 = await connectXenstoreSocket(xsd.socketPath);
  t.teardown(() => dom0.close());
  const errors: Error[] = [];
  const listener = new XenstoreListener(dom0, { onError: (_d, e) => errors.push(e) });
  t.teardown(() => listener.close());
  const accepted = new Map<number, Connection>();
  const waiters = new Map<number, (c: Connection) => void>();
  listener.onConnection((c) => {
    t.teardown(() => c.stream.destroy());
    const gen = c.peer.details?.['generation'] as number;
    const w = waiters.get(gen);
    if (w) w(c);
    else accepted.set(gen, c);
  });
  await listener.serve(5);
  const guestXs = await connectXenstoreSocket(await xsd.guestSocket(5));
  t.teardown(() => guestXs.close());
  const connector = new XenstoreConnector(guestXs);
  return {
    guestXs, listener, connector, errors,
    // Connections the host accepted for generations a hostile guest wrote are skipped.
    pair: async () => {
      const g = await connector.connect();
      g.stream.on('error', () => undefined); // the guest may have broken its own ring: that is its problem
      const gen = g.peer.details?.['generation'] as number;
      const h = accepted.get(gen) ?? await new Promise<Connection>((res) => waiters.set(gen, res));
      accepted.clear();
      waiters.clear();
      t.teardown(() => g.stream.destroy());
      return [g, h];
    },
  };
}

async function readAll(stream: Duplex, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  while (got < n) {
    const c = stream.read() as Buffer | null;
    if (c) { parts.push(c); got += c.length; } else await once(stream, 'readable');
  }
  return Buffer.concat(parts);
}

test('any sequence of writes from the guest arrives at the host as the same bytes', async (t) => {
  const r = await rig(t);
  await fc.assert(fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 1, maxLength: 5000 }), { minLength: 1, maxLength: 12 }), async (writes) => {
    const [g, h] = await r.pair();
    const want = Buffer.concat(writes.map((w) => Buffer.from(w)));
    for (const w of writes) g.stream.write(Buffer.from(w));
    const got = await readAll(h.stream, want.length);
    g.stream.destroy();
    return got.equals(want);
  }), { numRuns: 15 });
  t.is(r.listener.stats.violations, 0);
});

const node = fc.constantFrom('connect', 'c1/g2h/prod', 'c1/g2h/cons', 'c1/g2h/closed', 'c1/g2h/0', 'c1/g2h/15', 'c1/h2g/cons', 'c1/h2g/prod', 'accept');
const value = fc.oneof(
  fc.nat({ max: 40 }).map(String),
  fc.constantFrom('', '-1', '1e3', '0x10', '99999999999999999999', ' 1', '1\n'),
  fc.uint8Array({ maxLength: 1100 }).map((a) => Buffer.from(a)),
);

test('a guest writing anything to its channel nodes gets typed errors at most, and can always connect again', async (t) => {
  const r = await rig(t);
  await fc.assert(fc.asyncProperty(fc.array(fc.tuple(node, value), { minLength: 1, maxLength: 8 }), async (attack) => {
    const [g, h] = await r.pair();
    const gen = g.peer.details?.['generation'] as number;
    g.stream.write('before\n');
    for (const [n, v] of attack) {
      await r.guestXs.write(`vmanage/${n.replace('c1/', `c${gen}/`)}`, v).catch(() => undefined);
    }
    h.stream.resume();
    // Whatever happened, the guest connects again and the new connection carries data.
    const [g2, h2] = await r.pair();
    g2.stream.write('after\n');
    const got = (await readAll(h2.stream, 6)).toString();
    g2.stream.destroy();
    return got === 'after\n';
  }), { numRuns: 150, timeout: 8000 });
  for (const e of r.errors) t.regex((e as { code?: string }).code ?? '', /^(PROTOCOL_VIOLATION|NOT_FOUND|CHANNEL_CLOSED|UNAVAILABLE)$/, e.message);
});
