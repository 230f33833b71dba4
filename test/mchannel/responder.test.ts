// Answering the peer's requests (responder.ts) on its own: what each request is answered with,
// the bound on replies waiting for replay room, and the count of handlers running. The host is a
// recording one: the reply payloads it is given are parsed as the wire would carry them.
import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { ErrorCodes, VmanageError } from '../../src/domain/errors.js';
import type { RequestContext, RequestHandler } from '../../src/mchannel/channel-events.js';
import { SENT } from '../../src/mchannel/outbox.js';
import { Responder } from '../../src/mchannel/responder.js';
import { acceptAnything, type MessageValidator } from '../../src/mchannel/validator.js';
import type { MsgFrame } from '../../src/mchannel/wire.js';

interface Reply { k: string; p: number; b?: unknown; e?: { code: string; message: string } }

const PEER = { transport: 'memory', id: 'guest-1' };

function responder(o: { validator?: MessageValidator; max?: number; holdReplies?: boolean } = {}) {
  const replies: Reply[] = [];
  const calls: string[] = [];
  const held: (() => void)[] = [];
  let closed = false;
  const r = new Responder({ validator: o.validator ?? acceptAnything, maxConcurrentRequests: o.max ?? 4 }, {
    closed: () => closed,
    enqueue: (payload) => {
      replies.push(JSON.parse(`{${payload}}`) as Reply);
      return o.holdReplies ? new Promise<void>((resolve) => held.push(resolve)) : SENT;
    },
    peer: () => PEER,
    violation: (message) => calls.push(`violation: ${message}`),
    invalid: (f, code, message) => calls.push(`invalid ${f.k} ${code}: ${message}`),
    settled: () => calls.push('settled'),
  });
  return { r, replies, calls, held, close: () => { closed = true; } };
}

const request = (k: string, q: number, b: unknown, s = 5): MsgFrame => ({ t: 'msg', s, a: 0, k, q, b });
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Refuses request bodies that are not objects, and replies that are not {ok: boolean}. */
const strict: MessageValidator = {
  checkBody: (kind, body) => kind === 'unknown.kind' ? { ok: false, code: 'UNSUPPORTED', message: 'unknown kind' }
    : typeof body === 'object' && body !== null ? { ok: true, value: body } : { ok: false, code: 'INVALID_INPUT', message: 'body must be an object' },
  checkReply: (_kind, body) => typeof (body as { ok?: unknown } | undefined)?.ok === 'boolean' ? { ok: true, value: body } : { ok: false, code: 'INVALID_INPUT', message: 'reply needs ok' },
};

const cases: { name: string; kind?: string; body?: unknown; handler?: RequestHandler; reply: Omit<Reply, 'k' | 'p'>; calls: string[] }[] = [
  { name: 'the handler\'s result is the reply body', handler: () => ({ ok: true }), reply: { b: { ok: true } }, calls: ['settled'] },
  { name: 'an async handler\'s result is the reply body', handler: async () => ({ ok: false }), reply: { b: { ok: false } }, calls: ['settled'] },
  { name: 'a handler\'s VmanageError is answered with its code', handler: () => { throw new VmanageError(ErrorCodes.VmNotFound, 'no vm-7'); }, reply: { e: { code: 'VM_NOT_FOUND', message: 'no vm-7' } }, calls: ['settled'] },
  { name: 'any other failure of a handler is answered with UNAVAILABLE', handler: () => Promise.reject(new Error('disk on fire')), reply: { e: { code: 'UNAVAILABLE', message: 'disk on fire' } }, calls: ['settled'] },
  { name: 'a kind without a handler is answered with UNSUPPORTED', reply: { e: { code: 'UNSUPPORTED', message: 'no handler for x.ask' } }, calls: [] },
  { name: 'a body that fails its schema is reported and answered with INVALID_INPUT', body: 7, handler: () => ({ ok: true }), reply: { e: { code: 'INVALID_INPUT', message: 'body must be an object' } }, calls: ['invalid x.ask INVALID_INPUT: body must be an object'] },
  { name: 'an unknown kind is reported and answered with UNSUPPORTED', kind: 'unknown.kind', handler: () => ({ ok: true }), reply: { e: { code: 'UNSUPPORTED', message: 'unknown kind' } }, calls: ['invalid unknown.kind UNSUPPORTED: unknown kind'] },
  { name: 'a result that fails the reply schema is answered with INVALID_INPUT', handler: () => ({ yes: 1 }), reply: { e: { code: 'INVALID_INPUT', message: 'outgoing x.ask: reply needs ok' } }, calls: ['settled'] },
];

for (const c of cases) {
  test(c.name, async (t) => {
    const x = responder({ validator: strict });
    const kind = c.kind ?? 'x.ask';
    if (c.handler) x.r.handle(kind, c.handler);
    await x.r.answer(request(kind, 9, 'body' in c ? c.body : { q: 1 }), false);
    t.deepEqual(x.replies, [{ k: kind, p: 9, ...c.reply }]);
    t.deepEqual(x.calls, c.calls);
  });
}

test('the handler gets the validated body, the peer, the seq and whether it is stale', async (t) => {
  const x = responder();
  const seen: [unknown, RequestContext][] = [];
  x.r.handle('x.ask', (body, ctx) => { seen.push([body, ctx]); return null; });
  await x.r.answer(request('x.ask', 1, { n: 1 }, 12), true);
  t.deepEqual(seen, [[{ n: 1 }, { peer: PEER, seq: 12, stale: true }]]);
});

test('a later handler for a kind replaces the earlier one', async (t) => {
  const x = responder();
  x.r.handle('x.ask', () => 'first');
  x.r.handle('x.ask', () => 'second');
  await x.r.answer(request('x.ask', 1, {}), false);
  t.is(x.replies[0]?.b, 'second');
});

test('handlers running are counted until they finish, then the channel is told', async (t) => {
  const x = responder();
  let finish: (v: unknown) => void = () => {};
  x.r.handle('x.ask', () => new Promise((resolve) => { finish = resolve; }));
  const answered = x.r.answer(request('x.ask', 1, {}), false);
  t.is(x.r.inflight, 1);
  t.deepEqual(x.calls, []);
  finish({ done: true });
  await answered;
  t.is(x.r.inflight, 0);
  t.deepEqual(x.calls, ['settled']);
  t.deepEqual(x.replies, [{ k: 'x.ask', p: 1, b: { done: true } }]);
});

test('no reply is queued once the channel has closed', async (t) => {
  const x = responder();
  x.r.handle('x.ask', () => ({ ok: true }));
  x.close();
  await x.r.answer(request('x.ask', 1, {}), false);
  t.deepEqual(x.replies, []);
});

test('a peer that asks while maxConcurrentRequests replies wait for replay room is cut off, until they go out', async (t) => {
  const x = responder({ max: 2, holdReplies: true });
  let handled = 0;
  x.r.handle('x.ask', () => ++handled);
  await x.r.answer(request('x.ask', 1, {}), false);
  await x.r.answer(request('x.ask', 2, {}), false);
  await x.r.answer(request('x.ask', 3, {}), false);
  t.is(handled, 2, 'the third request is not handled');
  t.deepEqual(x.calls.filter((c) => c.startsWith('violation')), ['violation: 2 replies wait for acknowledgement: the peer asks without acknowledging']);
  x.held.shift()?.();
  await tick();
  await x.r.answer(request('x.ask', 4, {}), false);
  t.is(handled, 3, 'with one reply out, the next request is answered');
  t.deepEqual(x.replies.map((r) => r.p), [1, 2, 4]);
});

test('every request gets exactly one reply carrying its id, whatever its handler does', async (t) => {
  const outcome = fc.oneof(
    fc.record({ value: fc.jsonValue() }),
    fc.record({ code: fc.constantFrom(...Object.values(ErrorCodes)) }),
    fc.record({ throws: fc.string({ maxLength: 20 }) }),
    fc.constant({ none: true }),
  );
  await fc.assert(fc.asyncProperty(fc.array(outcome, { maxLength: 20 }), async (outcomes) => {
    const x = responder({ max: 64 });
    const answers = outcomes.map((o, i) => {
      const kind = `k.${i}`;
      if ('value' in o) x.r.handle(kind, async () => o.value);
      else if ('code' in o) x.r.handle(kind, () => { throw new VmanageError(o.code, 'refused'); });
      else if ('throws' in o) x.r.handle(kind, () => { throw o.throws; });
      return x.r.answer(request(kind, 100 + i, {}), false);
    });
    await Promise.all(answers);
    assert.deepStrictEqual(x.replies.map((r) => r.p).sort((a, b) => a - b), outcomes.map((_o, i) => 100 + i));
    for (const r of x.replies) {
      const o = outcomes[r.p - 100];
      assert.ok(o);
      if ('value' in o) assert.equal(JSON.stringify(r.b), JSON.stringify(o.value));
      else assert.equal(r.e?.code, 'code' in o ? o.code : 'throws' in o ? ErrorCodes.Unavailable : ErrorCodes.Unsupported);
    }
    assert.equal(x.r.inflight, 0);
  }), { numRuns: 100 });
  t.pass();
});
