import test from 'ava';
import { ChannelServer, acceptAnything, memoryNetwork, type Connection } from '../../src/mchannel/index.js';
import { ManualClock } from '../../src/domain/clock.js';
import { until } from './helpers.js';

const hello = (sid: string): string => `{"t":"hello","v":1,"role":"hook","id":"h","sid":"${sid}","inc":"i-${sid}","ack":0,"base":1,"re":false}\n`;

function reader(c: Connection): { lines: string[]; closed: () => boolean } {
  const lines: string[] = [];
  let closed = false;
  c.stream.on('data', (b: Buffer) => lines.push(...b.toString().split('\n').filter(Boolean)));
  c.stream.on('close', () => { closed = true; });
  c.stream.on('error', () => {});
  return { lines, closed: () => closed };
}

test('a connection that never says hello is dropped after helloTimeoutMs', async (t) => {
  const clock = new ManualClock();
  const net = memoryNetwork();
  const server = new ChannelServer(net.listener, { role: 'host', validator: acceptAnything, clock, helloTimeoutMs: 1000 });
  t.teardown(() => server.close());
  const r = reader(await net.connector.connect());
  clock.advance(1000);
  await until('dropped', () => r.closed());
  t.true(r.lines.some((l) => l.includes('HANDSHAKE_FAILED')));
  t.is(server.counters.handshakeFailures, 1);
});

test('connections with the same session id reach the same channel; new ids past maxSessions are refused', async (t) => {
  const net = memoryNetwork();
  const server = new ChannelServer(net.listener, { role: 'host', validator: acceptAnything, maxSessions: 2, closeFlushMs: 10 });
  t.teardown(() => server.close());
  const refused: string[] = [];
  server.events.on('refused', (r) => refused.push(r.error.message));
  for (const sid of ['a', 'b', 'a']) {
    const c = await net.connector.connect();
    reader(c);
    c.stream.write(hello(sid));
  }
  await until('two sessions', () => server.size === 2);
  const third = await net.connector.connect();
  const r = reader(third);
  third.stream.write(hello('c'));
  await until('refused', () => r.closed());
  t.deepEqual(refused, ['too many sessions']);
  t.is(server.get('a')?.counters.connects, 2);
});

test('connections waiting for their hello are capped', async (t) => {
  const net = memoryNetwork();
  const server = new ChannelServer(net.listener, { role: 'host', validator: acceptAnything, maxPendingConnections: 3 });
  t.teardown(() => server.close());
  const conns = await Promise.all(Array.from({ length: 5 }, () => net.connector.connect()));
  const rs = conns.map(reader);
  await until('two dropped', () => rs.filter((r) => r.closed()).length === 2);
  t.is(server.counters.handshakeFailures, 2);
});

test('a session whose client went away ends after sessionLingerMs', async (t) => {
  const clock = new ManualClock();
  const net = memoryNetwork();
  const server = new ChannelServer(net.listener, { role: 'host', validator: acceptAnything, clock, sessionLingerMs: 5000 });
  t.teardown(() => server.close());
  const c = await net.connector.connect();
  reader(c);
  c.stream.write(hello('s'));
  await until('session', () => server.size === 1);
  c.stream.destroy();
  await until('disconnected', () => server.get('s')?.state === 'disconnected');
  clock.advance(5000);
  await until('ended', () => server.size === 0);
  t.pass();
});
