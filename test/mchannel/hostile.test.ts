import test from 'ava';
import fc from 'fast-check';
import type { Duplex } from 'node:stream';
import { Channel, acceptAnything, memoryPair, BAD_INPUT_COUNTERS, type ChannelCounters } from '../../src/mchannel/index.js';
import { createRegistry, guestFamily } from '../../src/protocol/index.js';
import { until } from './helpers.js';

const HELLO = '{"t":"hello","v":1,"role":"agent","id":"evil","sid":"s-1","inc":"i-1","ack":0,"base":1,"re":false}\n';

/** A host-side channel with a hostile peer writing raw bytes at it. */
function hostile(opts: Partial<Parameters<typeof Channel.attached>[0]> = {}): { ch: Channel; peer: Duplex } {
  const [mine, theirs] = memoryPair('host', 'guest');
  const ch = Channel.attached({ role: 'host', validator: acceptAnything, ...opts });
  ch.attach(mine, { initiate: false });
  theirs.stream.on('data', () => {}); // drain what the host answers
  theirs.stream.on('error', () => {});
  return { ch, peer: theirs.stream };
}

/** Writes chunks honouring backpressure; stops when the reader stalls for stallMs. */
async function writeAll(s: Duplex, chunks: Iterable<string | Buffer>, stallMs = 300): Promise<'done' | 'stalled'> {
  for (const c of chunks) {
    if (s.destroyed) return 'stalled';
    if (!s.write(c)) {
      const drained = await Promise.race([
        new Promise<boolean>((r) => s.once('drain', () => r(true))),
        new Promise<boolean>((r) => setTimeout(() => r(false), stallMs)),
      ]);
      if (!drained) return 'stalled';
    }
  }
  return 'done';
}

function badInput(c: ChannelCounters): number {
  return BAD_INPUT_COUNTERS.reduce((n, k) => n + c[k], 0);
}

test('10 MB lines are skipped without being buffered and the channel keeps working', async (t) => {
  const { ch, peer } = hostile();
  t.teardown(() => ch.close());
  const heapBefore = process.memoryUsage().heapUsed;
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  function* lines(): Generator<Buffer | string> {
    yield HELLO;
    for (let line = 0; line < 3; line++) {
      for (let i = 0; i < 160; i++) yield chunk; // 10 MiB without a newline
      yield '\n';
    }
    yield '{"t":"msg","s":1,"a":0,"k":"x.y","b":{"ok":true}}\n';
  }
  t.is(await writeAll(peer, lines(), 10_000), 'done');
  const it = ch[Symbol.asyncIterator]();
  const m = await it.next();
  t.deepEqual(m.value?.body, { ok: true });
  t.is(ch.counters.tooLong, 3);
  t.is(ch.state, 'connected');
  const grownMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
  t.true(grownMb < 40, `heap grew ${grownMb.toFixed(1)} MiB for 30 MiB of input`);
});

test('a flood of valid messages nobody reads stalls the sender instead of growing memory', async (t) => {
  const { ch, peer } = hostile({ inboxMax: 256 });
  t.teardown(() => ch.close());
  const total = 50_000;
  function* flood(): Generator<string> {
    yield HELLO;
    for (let s = 1; s <= total; s++) yield `{"t":"msg","s":${s},"a":0,"k":"x.y","b":{"n":${s},"pad":"${'p'.repeat(100)}"}}\n`;
  }
  const outcome = await writeAll(peer, flood());
  t.is(outcome, 'stalled');
  t.true(ch.counters.delivered <= 256 + 64, `delivered ${ch.counters.delivered} while nobody read`);
  // Reading resumes the flow, in order.
  let expect = 1;
  for await (const m of ch) {
    if ((m.body as { n: number }).n !== expect) break;
    if (expect++ >= 300) break;
  }
  t.is(expect, 301);
});

test('unknown kinds, wrong types and deep nesting are counted and the channel stays up', async (t) => {
  const { ch, peer } = hostile({ validator: createRegistry(guestFamily) });
  t.teardown(() => ch.close());
  const invalid: string[] = [];
  ch.events.on('invalid', (e) => invalid.push(e.error.code));
  peer.write(HELLO);
  peer.write('{"t":"msg","s":1,"a":0,"k":"no.such.kind","b":{}}\n');
  peer.write('{"t":"msg","s":2,"a":0,"k":"sla.report","b":{"status":42,"ts":"yesterday"}}\n');
  peer.write(`{"t":"msg","s":3,"a":0,"k":"agent.heartbeat","b":${'['.repeat(5000)}${']'.repeat(5000)}}\n`);
  peer.write('{"t":"msg","s":"3","a":0,"k":"agent.heartbeat","b":{"ts":1}}\n');
  peer.write('{"t":"msg","s":3,"a":0,"k":"agent.heartbeat","b":{"ts":1}}\n');
  const first = await ch[Symbol.asyncIterator]().next();
  t.deepEqual(first.value?.body, { ts: 1 });
  t.deepEqual(invalid, ['UNSUPPORTED', 'INVALID_INPUT']);
  t.is(ch.counters.unknownKind, 1);
  t.is(ch.counters.invalidBody, 1);
  t.is(ch.counters.tooDeep, 1);
  t.is(ch.counters.badEnvelope, 1);
  t.is(ch.state, 'connected');
});

test('acks for messages never sent are counted as bad input, not trusted', async (t) => {
  const { ch, peer } = hostile({ closeFlushMs: 10 });
  t.teardown(() => ch.close());
  peer.write(HELLO);
  peer.write('{"t":"ack","a":999999}\n');
  await until('counted', () => ch.counters.badEnvelope === 1);
  await ch.send('x.y', {});
  t.is(ch.exportState().replay.length, 1);
});

test('random bytes and lines never crash a channel', async (t) => {
  await fc.assert(fc.asyncProperty(
    fc.array(fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u)),
      fc.jsonValue({ maxDepth: 3 }).map((v) => `${JSON.stringify(v)}\n`),
      fc.constantFrom(HELLO, '{"t":"msg","s":1,"a":0,"k":"x.y"}\n', '{"t":"hb","a":0}\n', '{"t":"bye","code":"X","message":"y"}\n'),
    ), { maxLength: 40 }),
    async (parts) => {
      const { ch, peer } = hostile({ errorBudget: 1000 });
      try {
        for (const p of parts) peer.write(p);
        await new Promise((r) => setTimeout(r, 1));
        return badInput(ch.counters) >= 0 && ['connected', 'disconnected', 'closed'].includes(ch.state);
      } finally {
        await ch.close();
      }
    },
  ), { numRuns: 100 });
  t.pass();
});

test('every JSON line that is not a valid frame is counted once as a bad envelope', async (t) => {
  const notFrame = fc.jsonValue({ maxDepth: 3 }).filter((v) => typeof v !== 'object' || v === null || Array.isArray(v) || !('t' in v));
  await fc.assert(fc.asyncProperty(fc.array(notFrame, { maxLength: 30 }), async (values) => {
    const { ch, peer } = hostile({ errorBudget: 1000 });
    try {
      peer.write(HELLO);
      for (const v of values) peer.write(`${JSON.stringify(v)}\n`);
      peer.write('{"t":"hb","a":0}\n');
      await until('all read', () => ch.counters.frames === values.length + 2);
      return ch.counters.badEnvelope === values.length && badInput(ch.counters) === values.length;
    } finally {
      await ch.close();
    }
  }), { numRuns: 100 });
  t.pass();
});

test('a peer repeating hellos (each would make us resend our buffer) is cut off', async (t) => {
  const { ch, peer } = hostile({ closeFlushMs: 10 });
  t.teardown(() => ch.close());
  const down = new Promise<{ code?: string } | undefined>((r) => ch.events.once('disconnected', (e) => r(e.error)));
  for (let i = 0; i < 20; i++) peer.write(HELLO);
  t.is((await down)?.code, 'PROTOCOL_VIOLATION');
  t.is(ch.counters.handshakes, 8);
});

test('a peer that sends requests but never acknowledges the replies is cut off', async (t) => {
  const { ch, peer } = hostile({ closeFlushMs: 10, replay: { maxCount: 4 }, maxConcurrentRequests: 8 });
  t.teardown(() => ch.close());
  ch.handle('x.ask', () => ({ ok: true }));
  const down = new Promise<{ code?: string } | undefined>((r) => ch.events.once('disconnected', (e) => r(e.error)));
  peer.write(HELLO);
  for (let s = 1; s <= 100; s++) peer.write(`{"t":"msg","s":${s},"a":0,"k":"x.ask","q":${s},"b":{}}\n`);
  t.is((await down)?.code, 'PROTOCOL_VIOLATION');
  t.true(ch.exportState().replay.length <= 4);
});
