// The delayed-ack timing (acks.ts) on its own, under a manual clock: when an ack frame is written
// for the messages received, and when a frame that already carries the ack makes it unnecessary.
// (acks.test.ts reads the same behaviour off the wire between two channels.)
import test from 'ava';
import fc from 'fast-check';
import { ManualClock } from '../../src/domain/clock.js';
import { AckScheduler } from '../../src/mchannel/acks.js';

/** Runs ops ('recv', 'piggyback', 'carried', 'stop', '+MS' to advance the clock) and returns
 *  the number of ack frames written. */
function run(ackEvery: number, ackDelayMs: number, ops: string[]): number {
  const clock = new ManualClock(0);
  let writes = 0;
  const s = new AckScheduler(clock, { ackEvery, ackDelayMs }, () => writes++);
  for (const op of ops) {
    if (op === 'recv') s.received();
    else if (op === 'piggyback') s.piggybacked();
    else if (op === 'carried') s.carried();
    else if (op === 'stop') s.stop();
    else clock.advance(Number(op.slice(1)));
  }
  return writes;
}

const cases: { name: string; ackEvery: number; ackDelayMs: number; ops: string[]; writes: number }[] = [
  { name: 'ackEvery messages in a row are acknowledged at once', ackEvery: 4, ackDelayMs: 100, ops: ['recv', 'recv', 'recv', 'recv'], writes: 1 },
  { name: 'fewer messages wait for ackDelayMs after the first of them', ackEvery: 4, ackDelayMs: 100, ops: ['recv', '+50', 'recv', '+49'], writes: 0 },
  { name: 'fewer messages are acknowledged by one ack when the delay ends', ackEvery: 4, ackDelayMs: 100, ops: ['recv', '+50', 'recv', '+50'], writes: 1 },
  { name: 'after an ack at ackEvery the pending delay finds nothing to say', ackEvery: 2, ackDelayMs: 100, ops: ['recv', 'recv', '+100'], writes: 1 },
  { name: 'a message sent back carries the ack: the delay ends without an ack frame', ackEvery: 4, ackDelayMs: 100, ops: ['recv', 'piggyback', '+100'], writes: 0 },
  { name: 'a message received after a piggybacked ack is acknowledged when the first delay ends', ackEvery: 4, ackDelayMs: 100, ops: ['recv', 'piggyback', '+60', 'recv', '+40'], writes: 1 },
  { name: 'a heartbeat carries the ack and ends the delay', ackEvery: 4, ackDelayMs: 100, ops: ['recv', 'carried', '+1000'], writes: 0 },
  { name: 'after a heartbeat the next message starts a new delay', ackEvery: 4, ackDelayMs: 100, ops: ['recv', '+60', 'carried', 'recv', '+99'], writes: 0 },
  { name: 'a stopped scheduler writes no ack', ackEvery: 4, ackDelayMs: 100, ops: ['recv', 'stop', '+1000'], writes: 0 },
  { name: 'ackEvery 1 acknowledges every message at once', ackEvery: 1, ackDelayMs: 100, ops: ['recv', 'recv', 'recv', '+100'], writes: 3 },
];

for (const c of cases) {
  test(c.name, (t) => {
    t.is(run(c.ackEvery, c.ackDelayMs, c.ops), c.writes);
  });
}

test('no message stays unacknowledged past ackDelayMs and no ack is written with nothing new to acknowledge', (t) => {
  const op = fc.oneof(fc.constant('recv'), fc.constant('piggyback'), fc.constant('carried'), fc.integer({ min: 0, max: 150 }));
  fc.assert(fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 100 }), fc.array(op, { maxLength: 80 }), (ackEvery, ackDelayMs, ops) => {
    const clock = new ManualClock(0);
    // Model: messages owed an ack, and since when (ms).
    let owed = 0;
    let owedSince = 0;
    const s = new AckScheduler(clock, { ackEvery, ackDelayMs }, () => {
      if (owed === 0) throw new Error(`ack written at ${clock.now()} ms with nothing owed`);
      if (clock.now() - owedSince > ackDelayMs) throw new Error(`ack owed since ${owedSince} ms written at ${clock.now()} ms`);
      owed = 0;
    });
    for (const o of ops) {
      if (o === 'recv') {
        if (owed++ === 0) owedSince = clock.now();
        s.received();
        if (owed >= ackEvery) throw new Error(`${owed} messages owed, ackEvery is ${ackEvery}`);
      } else if (o === 'piggyback') {
        s.piggybacked();
        owed = 0;
      } else if (o === 'carried') {
        s.carried();
        owed = 0;
      } else {
        clock.advance(o);
        if (owed > 0 && clock.now() - owedSince >= ackDelayMs) throw new Error(`ack owed since ${owedSince} ms still owed at ${clock.now()} ms`);
      }
    }
  }));
  t.pass();
});
