import test from 'ava';
import { Channel, memoryPair, acceptAnything, type Connection } from '../../src/mchannel/index.js';
import { createRegistry, guestFamily, hookFamily } from '../../src/protocol/index.js';
import { ManualClock } from '../../src/domain/clock.js';
import { isVmanageError, VmanageError } from '../../src/domain/errors.js';
import { joined, take, until } from './helpers.js';

const registry = createRegistry(guestFamily, hookFamily);
const hookBody = { object: 'qemu', operation: 'start', subOperation: 'begin', extra: '-', vm: { uuid: '4dea22b3-1d52-d8f3-2516-782e98ab3fa0', name: 'vm1' } };

/** Reads the raw lines a peer wrote to a memory connection. */
function lines(conn: Connection): string[] {
  const out: string[] = [];
  let rest = '';
  conn.stream.on('data', (b: Buffer) => {
    const parts = (rest + b.toString()).split('\n');
    rest = parts.pop() ?? '';
    out.push(...parts);
  });
  return out;
}

test('notifications arrive in order, exactly once, with their seq', async (t) => {
  const { client, serverSide } = await joined(t);
  for (let i = 0; i < 100; i++) await client.send('x.y', { i });
  const got = await take(await serverSide, 100);
  t.deepEqual(got.map((m) => (m.body as { i: number }).i), [...Array(100).keys()]);
  t.deepEqual(got.map((m) => m.seq), [...Array(100).keys()].map((i) => i + 1));
  t.false(got.some((m) => m.stale));
});

test('a request is answered by the peer handler and the reply is validated', async (t) => {
  const { client, serverSide } = await joined(t, { validator: registry }, { validator: registry });
  const s = await serverSide;
  s.handle('hook.event', (body) => ({ allow: (body as { operation: string }).operation === 'start', reason: 'policy' }));
  t.deepEqual(await client.request('hook.event', hookBody), { allow: true, reason: 'policy' });
  t.is(s.peer?.transport, 'memory');
  t.is(s.peerRole, 'agent');
});

const requestFailures: [string, (s: Channel) => void, unknown, string][] = [
  ['a handler that throws a VmanageError answers with its code', (s) => s.handle('hook.event', () => { throw new VmanageError('VM_NOT_FOUND', 'no such VM'); }), hookBody, 'VM_NOT_FOUND'],
  ['a request nobody handles is answered UNSUPPORTED', () => {}, hookBody, 'UNSUPPORTED'],
  ['a request with an invalid body is answered INVALID_INPUT', (s) => s.handle('hook.event', () => ({ allow: true })), { ...hookBody, vm: { uuid: 'nope', name: 'x' } }, 'INVALID_INPUT'],
  ['a handler whose reply breaks the schema is answered INVALID_INPUT', (s) => s.handle('hook.event', () => ({ allow: 'yes' })), hookBody, 'INVALID_INPUT'],
];
for (const [name, setup, body, code] of requestFailures) {
  test(name, async (t) => {
    // The client validates nothing so that it can send what a hostile peer would.
    const { client, serverSide } = await joined(t, {}, { validator: registry });
    setup(await serverSide);
    const err = await t.throwsAsync(client.request('hook.event', body));
    t.true(isVmanageError(err), String(err));
    t.is((err as VmanageError).details.peerCode, code);
    // ...and the channel stays up.
    await client.send('agent.heartbeat', { ts: 1 });
    t.is(client.state, 'connected');
  });
}

test('a request without a reply in time fails with REQUEST_TIMEOUT and a late reply is counted', async (t) => {
  const { client, serverSide } = await joined(t);
  let answer: ((v: unknown) => void) | undefined;
  (await serverSide).handle('slow.op', () => new Promise((r) => { answer = r; }));
  const err = await t.throwsAsync(client.request('slow.op', {}, { timeoutMs: 30 }));
  t.true(isVmanageError(err, 'REQUEST_TIMEOUT'));
  t.is(client.counters.requestTimeouts, 1);
  await until('the request reached the handler', () => answer !== undefined);
  answer?.({ late: true });
  await until('late reply counted', () => client.counters.unknownReply === 1);
  t.pass();
});

test('invalid notifications and unknown kinds are counted, reported, and the channel stays up', async (t) => {
  const { client, serverSide } = await joined(t, {}, { validator: registry });
  const s = await serverSide;
  const invalid: string[] = [];
  s.events.on('invalid', (e) => invalid.push(e.error.code));
  await client.send('sla.report', { status: 'maybe' });
  await client.send('no.such', {});
  await client.send('agent.heartbeat', { ts: 5 });
  const [m] = await take(s, 1);
  t.is(m?.kind, 'agent.heartbeat');
  t.deepEqual(invalid, ['INVALID_INPUT', 'UNSUPPORTED']);
  t.is(s.counters.invalidBody, 1);
  t.is(s.counters.unknownKind, 1);
});

test('sending a body that fails its schema is refused locally with INVALID_INPUT', async (t) => {
  const { client } = await joined(t, { validator: registry });
  t.true(isVmanageError(await t.throwsAsync(client.send('sla.report', { status: 'x' })), 'INVALID_INPUT'));
  t.true(isVmanageError(await t.throwsAsync(client.send('nope.kind', {})), 'UNSUPPORTED'));
});

test('sending a body larger than the frame limit is refused locally with FRAME_TOO_LARGE', async (t) => {
  const { client } = await joined(t);
  t.true(isVmanageError(await t.throwsAsync(client.send('x.big', { s: 'x'.repeat(70_000) })), 'FRAME_TOO_LARGE'));
  await client.send('x.small', {});
  t.is(client.counters.sent, 1);
});

test('a request whose body is larger than the frame limit is refused with FRAME_TOO_LARGE and leaves no request waiting', async (t) => {
  const clock = new ManualClock(0);
  const ch = Channel.attached({ role: 'host', validator: acceptAnything, clock });
  t.teardown(() => ch.detach());
  let refused: unknown;
  try {
    refused = await ch.request('x.big', { s: 'x'.repeat(70_000) }, { timeoutMs: 100 });
  } catch (err) {
    refused = err;
  }
  t.true(isVmanageError(refused, 'FRAME_TOO_LARGE'));
  clock.advance(100);
  t.is(ch.counters.requestTimeouts, 0, 'no orphaned request timed out (its rejection would be unhandled)');
});

test('a reply larger than the frame limit reaches the requester as a FRAME_TOO_LARGE error', async (t) => {
  const { client, serverSide } = await joined(t);
  (await serverSide).handle('x.big', () => ({ s: 'x'.repeat(70_000) }));
  t.true(isVmanageError(await t.throwsAsync(client.request('x.big', {})), 'FRAME_TOO_LARGE'));
});

test('messages sent while disconnected are delivered after the client reconnects by itself', async (t) => {
  const { client, net, serverSide } = await joined(t);
  const s = await serverSide;
  const resumed: string[] = [];
  client.events.on('resumed', (e) => resumed.push(e.role));
  await client.send('x.y', { n: 1 });
  net.cutAll();
  await until('client notices', () => client.state !== 'connected');
  await client.send('x.y', { n: 2 });
  await client.send('x.y', { n: 3 });
  const got = await take(s, 3);
  t.deepEqual(got.map((m) => (m.body as { n: number }).n), [1, 2, 3]);
  t.is(client.state, 'connected');
  t.true(s.counters.handshakes >= 2);
  t.true(resumed.length >= 1 && resumed.every((r) => r === 'host'));
});

test('a full replay buffer makes send wait until the peer reads (backpressure)', async (t) => {
  const { client, serverSide } = await joined(t, { replay: { maxCount: 4 } }, { inboxMax: 4 });
  const s = await serverSide;
  let resolved = 0;
  const sends = Array.from({ length: 40 }, (_, i) => client.send('x.y', { i }).then(() => { resolved++; }));
  await until('the buffer to fill', () => client.counters.sent >= 8);
  const stuckAt = resolved;
  t.true(stuckAt < 40, `resolved ${stuckAt}`);
  const got = await take(s, 40);
  await Promise.all(sends);
  t.is(got.length, 40);
  t.deepEqual(got.map((m) => (m.body as { i: number }).i), [...Array(40).keys()]);
});

test('a server that stops without ending sessions leaves its clients reconnecting', async (t) => {
  const { client, server } = await joined(t);
  await server.close();
  await until('client notices', () => client.state !== 'connected');
  t.not(client.state, 'closed');
});

test('a server that ends its sessions closes its clients with CHANNEL_CLOSED', async (t) => {
  const { client, server } = await joined(t);
  const closed = new Promise<{ error?: { code: string } }>((r) => client.events.once('closed', r));
  await server.close({ endSessions: true });
  t.is((await closed).error?.code, 'CHANNEL_CLOSED');
});

test('close ends the session on both sides and rejects later sends with CHANNEL_CLOSED', async (t) => {
  const { client, serverSide, server } = await joined(t);
  const s = await serverSide;
  const closed = new Promise((r) => s.events.once('closed', r));
  await client.send('x.y', {});
  await client.close();
  await closed;
  t.is(s.state, 'closed');
  t.is(server.size, 0);
  t.true(isVmanageError(await t.throwsAsync(client.send('x.y', {})), 'CHANNEL_CLOSED'));
});

test('a peer that goes silent is declared dead after deadAfterMs (injected clock)', async (t) => {
  const clock = new ManualClock(1000);
  const [mine, theirs] = memoryPair('me', 'silent');
  const ch = Channel.attached({ role: 'host', validator: acceptAnything, clock, heartbeatMs: 100, deadAfterMs: 300 });
  t.teardown(() => ch.close());
  const out = lines(theirs);
  const down = new Promise<VmanageError | undefined>((r) => ch.events.once('disconnected', (e) => r(e.error)));
  ch.attach(mine, { initiate: true });
  clock.advance(150);
  clock.advance(150);
  const err = await down;
  t.true(isVmanageError(err, 'PEER_DEAD'));
  t.is(ch.counters.peerDead, 1);
  await until('hello written', () => out.length > 0);
  t.regex(out[0] ?? '', /"t":"hello"/);
});

test('heartbeats keep an idle connection alive', async (t) => {
  const clock = new ManualClock(0);
  const [a, b] = memoryPair();
  const opts = { validator: acceptAnything, clock, heartbeatMs: 100, deadAfterMs: 300 };
  const x = Channel.attached({ ...opts, role: 'host' });
  const y = Channel.attached({ ...opts, role: 'agent', acceptNewSession: false });
  t.teardown(async () => { await x.close(); await y.close(); });
  x.attach(a, { initiate: true });
  y.attach(b, { initiate: false });
  await until('connected', () => x.state === 'connected' && y.state === 'connected');
  for (let i = 0; i < 20; i++) {
    clock.advance(100);
    await new Promise((r) => setTimeout(r, 1)); // let the heartbeats cross the memory pipe
  }
  t.is(x.state, 'connected');
  t.is(y.state, 'connected');
  t.is(x.counters.peerDead + y.counters.peerDead, 0);
});

test('a peer that sends errorBudget bad frames in a row is disconnected with PROTOCOL_VIOLATION', async (t) => {
  const [mine, theirs] = memoryPair();
  const ch = Channel.attached({ role: 'host', validator: acceptAnything, errorBudget: 5 });
  t.teardown(() => ch.close());
  const out = lines(theirs);
  const down = new Promise<VmanageError | undefined>((r) => ch.events.once('disconnected', (e) => r(e.error)));
  ch.attach(mine, { initiate: false });
  theirs.stream.write('garbage\n{"t":"nope"}\n[1]\n\xff\n{"t":"msg"}\n');
  t.true(isVmanageError(await down, 'PROTOCOL_VIOLATION'));
  t.is(ch.counters.budgetExhausted, 1);
  t.is(ch.counters.invalidJson, 2);
  t.is(ch.counters.badEnvelope, 3);
  await until('bye written', () => out.some((l) => l.includes('"t":"bye"')));
  t.pass();
});

test('a hello with another protocol version fails the handshake', async (t) => {
  const [mine, theirs] = memoryPair();
  const ch = Channel.attached({ role: 'host', validator: acceptAnything });
  t.teardown(() => ch.close());
  const down = new Promise<VmanageError | undefined>((r) => ch.events.once('disconnected', (e) => r(e.error)));
  ch.attach(mine, { initiate: false });
  theirs.stream.write('{"t":"hello","v":2,"role":"agent","id":"x","sid":"s1","inc":"i1","ack":0,"base":1,"re":false}\n');
  t.true(isVmanageError(await down, 'HANDSHAKE_FAILED'));
  t.is(ch.counters.handshakeFailures, 1);
});

test('an answer to another connection\'s hello is stale: only the answer echoing our nonce completes the handshake', async (t) => {
  const [mine, theirs] = memoryPair('host', 'guest');
  const ch = Channel.attached({ role: 'host', validator: acceptAnything, closeFlushMs: 10 });
  t.teardown(() => ch.close());
  const out = lines(theirs);
  ch.attach(mine, { initiate: true });
  await until('our hello', () => out.length > 0);
  const ours = JSON.parse(out[0] ?? '{}') as { n?: string; sid: string };
  t.truthy(ours.n);
  const answer = (echo: string): string => `{"t":"hello","v":1,"role":"agent","id":"g","sid":"${ours.sid}","inc":"g1","ack":0,"base":1,"re":true,"echo":"${echo}"}\n`;
  theirs.stream.write(answer('nonce-of-the-previous-host'));
  theirs.stream.write('{"t":"msg","s":1,"a":0,"k":"x.y","b":{"n":1}}\n');
  theirs.stream.write(answer(ours.n ?? ''));
  theirs.stream.write('{"t":"msg","s":2,"a":0,"k":"x.y","b":{"n":2}}\n');
  const got = await take(ch, 2);
  t.deepEqual(got.map((m) => [m.seq, m.stale]), [[1, true], [2, false]]);
  t.is(ch.counters.handshakes, 1);
});
