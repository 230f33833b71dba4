// Delayed cumulative acks: a busy peer (the leader) acknowledges after ackEvery messages or
// ackDelayMs after the first unacknowledged one, whichever comes first, and a heartbeat carries
// the ack so none is held past one. What the receiver writes is read off the wire.
import test, { type ExecutionContext } from 'ava';
import { ManualClock } from '../../src/domain/clock.js';
import { Channel, acceptAnything, memoryPair, type Connection } from '../../src/mchannel/index.js';
import { until } from './helpers.js';

/** Frames (parsed) the peer at the other end of conn writes. */
function frames(conn: Connection): { t: string; a?: number }[] {
  const out: { t: string; a?: number }[] = [];
  let rest = '';
  conn.stream.on('data', (b: Buffer) => {
    const parts = (rest + b.toString()).split('\n');
    rest = parts.pop() ?? '';
    for (const p of parts) out.push(JSON.parse(p) as { t: string; a?: number });
  });
  return out;
}

async function pair(t: ExecutionContext, receiver: { ackEvery: number; ackDelayMs: number; heartbeatMs: number }) {
  const clock = new ManualClock(0);
  const [a, b] = memoryPair();
  const sender = Channel.attached({ role: 'host', validator: acceptAnything, clock, heartbeatMs: 60_000, deadAfterMs: 120_000 });
  const leader = Channel.attached({ role: 'leader', validator: acceptAnything, clock, deadAfterMs: 120_000, acceptNewSession: false, ...receiver });
  t.teardown(() => { sender.detach(); leader.detach(); });
  const written = frames(a); // what the receiver (on b) writes reaches a
  sender.attach(a, { initiate: true });
  leader.attach(b, { initiate: false });
  await until('connected', () => sender.state === 'connected' && leader.state === 'connected');
  const unacked = (): number => sender.exportState().replay.length;
  const delivered = async (n: number): Promise<void> => until(`${n} delivered`, () => leader.counters.delivered >= n);
  const acks = (): { t: string; a?: number }[] => written.filter((f) => f.t === 'ack');
  return { clock, sender, leader, written, unacked, delivered, acks };
}

test('messages within ackDelayMs are acknowledged by one cumulative ack when the delay ends', async (t) => {
  const p = await pair(t, { ackEvery: 16, ackDelayMs: 1000, heartbeatMs: 5000 });
  for (let i = 0; i < 3; i++) await p.sender.send('host.update', { i });
  await p.delivered(3);
  p.clock.advance(999);
  await new Promise((r) => setImmediate(r));
  t.deepEqual(p.acks(), [], 'no ack before the delay');
  t.is(p.unacked(), 3, 'the sender holds all three for replay meanwhile');
  p.clock.advance(1);
  await until('one ack', () => p.acks().length === 1);
  t.deepEqual(p.acks(), [{ t: 'ack', a: 3 }]);
  await until('replay released', () => p.unacked() === 0);
});

test('ackEvery unacknowledged messages are acknowledged at once, before the delay', async (t) => {
  const p = await pair(t, { ackEvery: 4, ackDelayMs: 1000, heartbeatMs: 5000 });
  for (let i = 0; i < 4; i++) await p.sender.send('host.update', { i });
  await p.delivered(4);
  await until('ack', () => p.acks().length === 1);
  t.deepEqual(p.acks(), [{ t: 'ack', a: 4 }]);
  p.clock.advance(1000);
  await new Promise((r) => setImmediate(r));
  t.is(p.acks().length, 1, 'the delayed ack has nothing left to say');
});

test('a heartbeat carries the pending ack: no separate ack follows it', async (t) => {
  const p = await pair(t, { ackEvery: 16, ackDelayMs: 1000, heartbeatMs: 100 });
  await p.sender.send('host.update', { i: 0 });
  await p.delivered(1);
  p.clock.advance(100);
  await until('heartbeat', () => p.written.some((f) => f.t === 'hb'));
  t.is(p.written.find((f) => f.t === 'hb')?.a, 1, 'the heartbeat acknowledges seq 1');
  await until('replay released', () => p.unacked() === 0);
  p.clock.advance(1000);
  await new Promise((r) => setImmediate(r));
  t.deepEqual(p.acks(), []);
});

test('a message sent back carries the ack (piggyback) and the delayed ack is not written', async (t) => {
  const p = await pair(t, { ackEvery: 16, ackDelayMs: 1000, heartbeatMs: 5000 });
  await p.sender.send('host.update', { i: 0 });
  await p.delivered(1);
  await p.leader.send('leader.budget', { watts: 100 });
  await until('msg', () => p.written.some((f) => f.t === 'msg'));
  t.is(p.written.find((f) => f.t === 'msg')?.a, 1);
  p.clock.advance(1000);
  await new Promise((r) => setImmediate(r));
  t.deepEqual(p.acks(), []);
});
