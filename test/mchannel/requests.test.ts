// Our requests waiting for replies (requests.ts) on their own, under a manual clock: what a reply
// frame, a timeout, a failure to queue, or the channel's end turns each request into.
import test from 'ava';
import { ManualClock } from '../../src/domain/clock.js';
import { ErrorCodes, VmanageError, isVmanageError, type ErrorCode } from '../../src/domain/errors.js';
import { newChannelCounters } from '../../src/mchannel/counters.js';
import { RequestTable, toCode } from '../../src/mchannel/requests.js';
import type { Checked } from '../../src/mchannel/validator.js';
import type { MsgFrame } from '../../src/mchannel/wire.js';

function table() {
  const clock = new ManualClock(0);
  const counters = newChannelCounters();
  const invalid: string[] = [];
  const t = new RequestTable(clock, counters);
  /** Replies must be objects with ok: boolean. */
  const check = (_kind: string, body: unknown): Checked => typeof (body as { ok?: unknown } | undefined)?.ok === 'boolean'
    ? { ok: true, value: body } : { ok: false, code: 'INVALID_INPUT', message: 'reply needs ok' };
  const settle = (f: MsgFrame): void => t.settle(f, check, (code, message) => invalid.push(`${code}: ${message}`));
  return { clock, counters, invalid, table: t, settle };
}

const reply = (p: number, rest: Partial<MsgFrame>): MsgFrame => ({ t: 'msg', s: 1, a: 0, k: 'x.ask', p, ...rest });

/** The settled value of p, or the error it rejected with. */
async function outcome(p: Promise<unknown>): Promise<unknown> {
  return p.then((v) => v, (e: unknown) => e);
}

const replies: { name: string; frame: Partial<MsgFrame>; expect: (got: unknown) => boolean; invalid: string[] }[] = [
  { name: 'a valid reply resolves the request with its body', frame: { b: { ok: true } }, expect: (got) => JSON.stringify(got) === '{"ok":true}', invalid: [] },
  { name: 'an error reply with a code we know rejects with that code', frame: { e: { code: 'VM_NOT_FOUND', message: 'no vm-7' } }, expect: (got) => isVmanageError(got, 'VM_NOT_FOUND') && /peer answered x.ask with VM_NOT_FOUND: no vm-7/.test(got.message), invalid: [] },
  { name: 'an error reply with a code we do not know rejects with PROTOCOL_VIOLATION', frame: { e: { code: 'WHATEVER', message: 'm' } }, expect: (got) => isVmanageError(got, 'PROTOCOL_VIOLATION'), invalid: [] },
  { name: 'a reply failing its schema rejects with INVALID_INPUT and is reported', frame: { b: { yes: 1 } }, expect: (got) => isVmanageError(got, 'INVALID_INPUT'), invalid: ['INVALID_INPUT: reply needs ok'] },
];

for (const c of replies) {
  test(c.name, async (t) => {
    const x = table();
    const p = x.table.start(3, 'x.ask', 1000, () => Promise.resolve());
    x.settle(reply(3, c.frame));
    const got = await outcome(p);
    t.true(c.expect(got), String(got));
    t.deepEqual(x.invalid, c.invalid);
    t.is(x.table.size, 0);
    x.clock.advance(1000);
    t.is(x.counters.requestTimeouts, 0, 'the settled request does not time out later');
  });
}

test('a request without a reply rejects with REQUEST_TIMEOUT after timeoutMs and a late reply is counted', async (t) => {
  const x = table();
  const p = outcome(x.table.start(4, 'x.ask', 500, () => Promise.resolve()));
  x.clock.advance(499);
  t.is(x.table.size, 1);
  x.clock.advance(1);
  const err = await p;
  t.true(isVmanageError(err, 'REQUEST_TIMEOUT'));
  t.like((err as VmanageError).details, { kind: 'x.ask', timeoutMs: 500, requestId: 4 });
  t.is(x.counters.requestTimeouts, 1);
  x.settle(reply(4, { b: { ok: true } }));
  t.is(x.counters.unknownReply, 1);
});

const queueFailures: { name: string; enqueue: () => Promise<void>; code: ErrorCode }[] = [
  { name: 'throws (FRAME_TOO_LARGE)', enqueue: () => { throw new VmanageError(ErrorCodes.FrameTooLarge, 'too big'); }, code: 'FRAME_TOO_LARGE' },
  { name: 'rejects (CHANNEL_CLOSED)', enqueue: () => Promise.reject(new VmanageError(ErrorCodes.ChannelClosed, 'closed')), code: 'CHANNEL_CLOSED' },
];

for (const c of queueFailures) {
  test(`a request whose message cannot be queued rejects at once with that error when enqueue ${c.name}`, async (t) => {
    const x = table();
    const got = await outcome(x.table.start(5, 'x.ask', 500, c.enqueue));
    t.true(isVmanageError(got, c.code));
    t.is(x.table.size, 0, 'nothing stays pending');
    x.clock.advance(500);
    t.is(x.counters.requestTimeouts, 0);
  });
}

test('the request is open before its message is queued, so an immediate reply finds it', async (t) => {
  const x = table();
  const p = x.table.start(6, 'x.ask', 500, () => {
    x.settle(reply(6, { b: { ok: false } }));
    return Promise.resolve();
  });
  t.deepEqual(await p, { ok: false });
  t.is(x.counters.unknownReply, 0);
});

test('the channel\'s end rejects every open request with its reason and cancels their timeouts', async (t) => {
  const x = table();
  const ps = [1, 2, 3].map((id) => outcome(x.table.start(id, 'x.ask', 500, () => Promise.resolve())));
  const why = new VmanageError(ErrorCodes.ChannelClosed, 'the peer started a new session');
  x.table.failAll(why);
  t.deepEqual(await Promise.all(ps), [why, why, why]);
  x.clock.advance(500);
  t.is(x.counters.requestTimeouts, 0);
  t.is(x.table.size, 0);
});

const codes: [string, ErrorCode][] = [
  ['CHANNEL_CLOSED', 'CHANNEL_CLOSED'], ['VM_NOT_FOUND', 'VM_NOT_FOUND'], ['', 'PROTOCOL_VIOLATION'],
  ['channel_closed', 'PROTOCOL_VIOLATION'], ['__proto__', 'PROTOCOL_VIOLATION'], ['toString', 'PROTOCOL_VIOLATION'],
];

for (const [peer, ours] of codes) {
  test(`the peer's error code ${JSON.stringify(peer)} becomes ${ours}`, (t) => {
    t.is(toCode(peer), ours);
  });
}
