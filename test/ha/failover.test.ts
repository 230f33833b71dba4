import test from 'ava';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { isVmanageError } from '../../src/domain/errors.js';
import { failoverConnector } from '../../src/mchannel/transports/failover.js';
import { tlsConnector } from '../../src/mchannel/transports/tls.js';
import { unixConnector, unixListener } from '../../src/mchannel/transports/unix.js';
import type { Connection, Listener } from '../../src/mchannel/types.js';
import { makeCa, makeLeaf } from '../mchannel/certs.js';
import { tempDir } from '../support/proc.js';

/** A unix listener that echoes its label to every peer, closed at teardown. */
async function serve(t: { teardown(fn: () => unknown): void }, path: string, label: string): Promise<Listener> {
  const l = await unixListener(path, { label });
  l.onConnection((c) => c.stream.end(label));
  t.teardown(() => l.close());
  return l;
}

async function greeting(c: Connection): Promise<string> {
  let s = '';
  c.stream.on('data', (b: Buffer) => { s += b.toString(); });
  await once(c.stream, 'end');
  return s;
}

test('connects to the first endpoint and stays with it while it answers', async (t) => {
  const dir = await tempDir(t);
  await serve(t, join(dir, 'a.sock'), 'A');
  await serve(t, join(dir, 'b.sock'), 'B');
  const f = failoverConnector([unixConnector(join(dir, 'a.sock')), unixConnector(join(dir, 'b.sock'))]);
  t.is(f.kind, 'failover');
  for (let i = 0; i < 3; i++) t.is(await greeting(await f.connect()), 'A');
  t.deepEqual(f.connections, [3, 0]);
  t.is(f.target, join(dir, 'a.sock'));
});

test('a refused endpoint moves the same attempt on to the next one, which then stays current', async (t) => {
  const dir = await tempDir(t);
  const a = await serve(t, join(dir, 'a.sock'), 'A');
  await serve(t, join(dir, 'b.sock'), 'B');
  const f = failoverConnector([unixConnector(join(dir, 'a.sock')), unixConnector(join(dir, 'b.sock'))]);
  t.is(await greeting(await f.connect()), 'A');
  await a.close();
  t.is(await greeting(await f.connect()), 'B');
  t.deepEqual(f.failures, [1, 0]);
  t.is(f.current, 1);
  await serve(t, join(dir, 'a.sock'), 'A again');
  t.is(await greeting(await f.connect()), 'B', 'no switching back while the current endpoint answers');
});

test('advance() makes the next attempt start at the next endpoint, wrapping around', async (t) => {
  const dir = await tempDir(t);
  for (const n of ['a', 'b', 'c']) await serve(t, join(dir, `${n}.sock`), n.toUpperCase());
  const f = failoverConnector(['a', 'b', 'c'].map((n) => unixConnector(join(dir, `${n}.sock`))));
  const seen: string[] = [];
  for (let i = 0; i < 4; i++) {
    seen.push(await greeting(await f.connect()));
    f.advance();
  }
  t.deepEqual(seen, ['A', 'B', 'C', 'A']);
});

test('when no endpoint answers the error is UNAVAILABLE and names every endpoint', async (t) => {
  const dir = await tempDir(t);
  const paths = [join(dir, 'a.sock'), join(dir, 'b.sock')];
  const f = failoverConnector(paths.map((p) => unixConnector(p)));
  const err = await t.throwsAsync(f.connect());
  t.true(isVmanageError(err, 'UNAVAILABLE'));
  for (const p of paths) t.true(err.message.includes(p), err.message);
  t.deepEqual(f.failures, [1, 1]);
  t.is(f.current, 0, 'a full round ends where it started');
});

test('an endpoint that hangs uses up the attempt; the next attempt starts at the next endpoint', async (t) => {
  const dir = await tempDir(t);
  // A TCP server that accepts and never answers the TLS handshake: a hung leader.
  const held: Socket[] = [];
  const hung = createServer((s) => held.push(s));
  await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
  t.teardown(() => { for (const s of held) s.destroy(); hung.close(); });
  const port = (hung.address() as { port: number }).port;
  const ca = makeCa(dir, 'ca');
  const leaf = makeLeaf(dir, 'ca', 'host-1');
  await serve(t, join(dir, 'b.sock'), 'B');
  const f = failoverConnector([tlsConnector({ host: '127.0.0.1', port, serverName: 'leader', ca: ca.cert, ...leaf }), unixConnector(join(dir, 'b.sock'))]);
  const err = await t.throwsAsync(f.connect(AbortSignal.timeout(300)));
  t.true(isVmanageError(err, 'UNAVAILABLE'));
  t.regex(err.message, /aborted/);
  t.is(f.current, 1);
  t.is(await greeting(await f.connect(AbortSignal.timeout(2000))), 'B');
});

test('an empty endpoint list is refused', (t) => {
  const err = t.throws(() => failoverConnector([]));
  t.true(isVmanageError(err, 'INVALID_INPUT'));
});
