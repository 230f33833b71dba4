// The outgoing queue (outbox.ts) on its own, over a real SessionCore and a manual clock: what goes
// into the replay buffer and onto the connection, in which order, what waits for acks (or is
// evicted), and how close()'s flush ends.
import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { ManualClock } from '../../src/domain/clock.js';
import { ErrorCodes, VmanageError } from '../../src/domain/errors.js';
import { newChannelCounters } from '../../src/mchannel/counters.js';
import { Outbox, SENT } from '../../src/mchannel/outbox.js';
import { SessionCore } from '../../src/mchannel/session.js';

interface Setup { maxCount?: number; maxBytes?: number; whenReplayFull?: 'wait' | 'evict'; maxFrameBytes?: number }

function outbox(o: Setup = {}) {
  const clock = new ManualClock(0);
  const counters = newChannelCounters();
  let ids = 0;
  const core = new SessionCore({ maxCount: o.maxCount ?? 2, maxBytes: o.maxBytes ?? 1 << 20 }, counters, () => `id-${ids++}`, 'session-1');
  const written: { seq: number; payload: string }[] = [];
  const opts = { clock, maxFrameBytes: o.maxFrameBytes ?? 65536, whenReplayFull: o.whenReplayFull ?? 'wait' } as const;
  const box = new Outbox(core, counters, opts, (seq, payload) => written.push({ seq, payload }));
  /** The peer acknowledges up to seq a; the channel then drains. */
  const ack = (a: number): void => {
    core.ack(a);
    box.drain();
  };
  return { clock, counters, core, box, written, ack };
}

/** Tracks whether a promise settled (read after tick()). */
function watch(p: Promise<void>): { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } {
  const w: { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } = { state: 'pending' };
  p.then(() => { w.state = 'resolved'; }, (error: unknown) => { w.state = 'rejected'; w.error = error; });
  return w;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('messages go into the replay buffer and onto the connection at once while the buffer has room', (t) => {
  const o = outbox({ maxCount: 2 });
  t.is(o.box.enqueue('"k":"a"'), SENT);
  t.is(o.box.enqueue('"k":"b"'), SENT);
  t.deepEqual(o.written, [{ seq: 1, payload: '"k":"a"' }, { seq: 2, payload: '"k":"b"' }]);
  t.is(o.counters.sent, 2);
  t.is(o.core.replay.count, 2);
});

test('a full buffer holds later messages, in order, until acks make room', async (t) => {
  // 10 payload bytes: an 8-byte message leaves room for a 1-byte one, but that one may not
  // overtake the 8-byte message already waiting.
  const o = outbox({ maxCount: 100, maxBytes: 10 });
  t.is(o.box.enqueue('x'.repeat(8)), SENT);
  const y = watch(o.box.enqueue('y'.repeat(8)));
  const z = watch(o.box.enqueue('z'));
  await tick();
  t.deepEqual([y.state, z.state], ['pending', 'pending']);
  t.is(o.written.length, 1);
  o.ack(1);
  await tick();
  t.deepEqual([y.state, z.state], ['resolved', 'resolved']);
  t.deepEqual(o.written.map((w) => [w.seq, w.payload[0]]), [[1, 'x'], [2, 'y'], [3, 'z']]);
  t.is(o.counters.sent, 3);
});

test('with whenReplayFull evict the oldest unacknowledged messages make room, each counted', (t) => {
  const o = outbox({ maxCount: 2, whenReplayFull: 'evict' });
  for (const k of ['a', 'b', 'c', 'd']) t.is(o.box.enqueue(`"k":"${k}"`), SENT);
  t.is(o.counters.evicted, 2);
  t.deepEqual(o.core.replay.toJSON().map((e) => e.seq), [3, 4]);
  t.is(o.written.length, 4, 'every message was written once');
});

test('a payload too large for a frame throws FRAME_TOO_LARGE and nothing is buffered', (t) => {
  const o = outbox({ maxFrameBytes: 100 });
  const err = t.throws(() => o.box.enqueue('x'.repeat(60)), { instanceOf: VmanageError });
  t.is(err?.code, ErrorCodes.FrameTooLarge);
  t.is(o.core.replay.count, 0);
  t.is(o.counters.sent, 0);
  t.is(o.box.enqueue('x'.repeat(52)), SENT, 'the payload plus the 48-byte envelope fits exactly');
});

const flushEnds: { name: string; end: (o: ReturnType<typeof outbox>) => void }[] = [
  { name: 'the peer acknowledges everything', end: (o) => o.ack(2) },
  { name: 'the timeout passes', end: (o) => o.clock.advance(1000) },
  { name: 'the connection drops (release)', end: (o) => o.box.release() },
  { name: 'the channel ends', end: (o) => o.box.end(new VmanageError(ErrorCodes.ChannelClosed, 'closed')) },
];

for (const c of flushEnds) {
  test(`a flush waiting for acks ends when ${c.name}`, async (t) => {
    const o = outbox();
    o.box.enqueue('"k":"a"');
    o.box.enqueue('"k":"b"');
    const f = watch(o.box.flushed(1000));
    o.ack(1);
    o.clock.advance(999);
    await tick();
    t.is(f.state, 'pending', 'one message is still unacknowledged, 1 ms before the timeout');
    c.end(o);
    await tick();
    t.is(f.state, 'resolved');
  });
}

test('a flush with nothing unacknowledged resolves at once', (t) => {
  t.is(outbox().box.flushed(1000), SENT);
});

test('ending the outbox rejects the waiting messages with the reason', async (t) => {
  const o = outbox({ maxCount: 1 });
  o.box.enqueue('"k":"a"');
  const waiting = [watch(o.box.enqueue('"k":"b"')), watch(o.box.enqueue('"k":"c"'))];
  const why = new VmanageError(ErrorCodes.ChannelClosed, 'session handed off');
  o.box.end(why);
  await tick();
  t.deepEqual(waiting.map((w) => [w.state, w.error]), [['rejected', why], ['rejected', why]]);
  o.ack(1);
  t.is(o.written.length, 1, 'nothing that was rejected is written later');
});

test('any mix of sends and acks writes every message once, in order, within the buffer limits', async (t) => {
  const step = fc.oneof(fc.record({ send: fc.integer({ min: 1, max: 40 }) }), fc.record({ ack: fc.nat({ max: 4 }) }));
  await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 10, max: 100 }), fc.array(step, { maxLength: 60 }), async (maxCount, maxBytes, steps) => {
    const o = outbox({ maxCount, maxBytes });
    const sent: string[] = [];
    const resolved: string[] = [];
    for (const s of steps) {
      if ('send' in s) {
        const payload = `${sent.length}:`.padEnd(s.send, '.');
        sent.push(payload);
        void o.box.enqueue(payload).then(() => resolved.push(payload));
      } else {
        o.ack(Math.min(o.core.peerAck + s.ack, o.core.nextSeq - 1));
      }
      const r = o.core.replay;
      if (r.count > maxCount || (r.bytes > maxBytes && r.count > 1)) throw new Error(`replay holds ${r.count} messages, ${r.bytes} bytes`);
    }
    while (o.written.length < sent.length) {
      const before = o.written.length;
      o.ack(o.core.nextSeq - 1);
      if (o.written.length === before) throw new Error(`${sent.length - before} messages stuck with everything acknowledged`);
    }
    await tick();
    assert.deepStrictEqual(o.written.map((w) => w.payload), sent, 'written once each, in the order given');
    assert.deepStrictEqual(o.written.map((w) => w.seq), sent.map((_p, i) => i + 1));
    assert.deepStrictEqual(resolved, sent, 'every send resolved, in order');
  }), { numRuns: 100 });
  t.pass();
});
