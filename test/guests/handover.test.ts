import test from 'ava';
import fc from 'fast-check';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { systemClock } from '../../src/adapters/clock.js';
import { HandoverClient, HandoverServer, HANDOVER_KIND } from '../../src/adapters/guests/handover-endpoint.js';
import { HandoverStore } from '../../src/adapters/guests/handover-store.js';
import { ManualClock } from '../../src/domain/clock.js';
import { Channel } from '../../src/mchannel/channel.js';
import type { SessionState } from '../../src/mchannel/state.js';
import { acceptAnything } from '../../src/mchannel/validator.js';
import { unixConnector, unixListener } from '../../src/mchannel/transports/unix.js';
import { tempDir, waitFor } from '../support/proc.js';

const VM = '6f1c1f0e-4f0c-4c4e-9a51-2f6c3c1d0a11';
const state = (received: number): SessionState => ({
  version: 1, sessionId: 's1', role: 'host', incarnation: 'i1', peerIncarnation: 'p1', nextSeq: 3, received, peerAck: 1,
  replay: [{ seq: 2, payload: '"k":"host.config","b":{"report_interval_s":1}' }], nextRequestId: 1,
});

test('a stored state is taken once, and expires after its TTL', (t) => {
  const clock = new ManualClock(1000);
  const store = new HandoverStore(clock, 5000);
  store.put(VM, state(7), 'a');
  t.is(store.take(VM)?.state.received, 7);
  t.is(store.take(VM), undefined);
  store.put(VM, state(8), 'a');
  clock.advance(5001);
  t.is(store.take(VM), undefined);
  t.is(store.counters.expired, 1);
});

test('a VM waiting for its state gets it when it arrives, or undefined at the timeout', async (t) => {
  const clock = new ManualClock();
  const store = new HandoverStore(clock);
  const waiting = store.wait(VM, 1000);
  t.true(store.isWaiting(VM));
  store.put(VM, state(3), 'a');
  t.is((await waiting)?.state.received, 3);
  const late = store.wait(VM, 1000);
  clock.advance(1000);
  t.is(await late, undefined);
  t.is(store.counters.waitTimeouts, 1);
});

test('the store keeps at most maxEntries states, dropping the oldest', (t) => {
  const store = new HandoverStore(new ManualClock(), 60_000, 3);
  for (let i = 0; i < 5; i++) store.put(`vm-${i}`, state(i), 'a');
  t.is(store.size, 3);
  t.is(store.take('vm-0'), undefined);
  t.is(store.take('vm-4')?.state.received, 4);
  t.is(store.counters.evicted, 2);
});

test('a state sent by one host daemon reaches the other over a unix socket', async (t) => {
  const dir = await tempDir(t);
  const got: { vm: string; state: SessionState; from: string }[] = [];
  const server = new HandoverServer({ listener: await unixListener(join(dir, 'h.sock')), clock: systemClock, accept: (vm, s, from) => got.push({ vm, state: s, from }) });
  t.teardown(() => server.close());
  const client = new HandoverClient([{ name: 'b', connector: unixConnector(join(dir, 'h.sock')) }], systemClock, 2000);
  await client.send(VM, state(5), 'b');
  t.is(got.length, 1);
  t.deepEqual(got[0]?.state, state(5));
  await t.throwsAsync(client.send(VM, state(5), 'nobody'), { code: 'NOT_FOUND' });
});

test('a peer that is down makes the handover fail with UNAVAILABLE, not hang', async (t) => {
  const dir = await tempDir(t);
  const client = new HandoverClient([{ name: 'b', connector: unixConnector(join(dir, 'absent.sock')) }], systemClock, 300);
  await t.throwsAsync(client.send(VM, state(5)), { code: 'UNAVAILABLE' });
});

test('hostile handover requests are refused with INVALID_INPUT and never reach the manager', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'h.sock');
  let accepted = 0;
  const server = new HandoverServer({ listener: await unixListener(path), clock: systemClock, accept: () => { accepted++; } });
  t.teardown(() => server.close());
  const ch = Channel.client(unixConnector(path), { role: 'mvm', validator: acceptAnything });
  t.teardown(() => ch.close());
  const bodies = fc.sample(fc.oneof(
    fc.anything(),
    fc.record({ vm: fc.string(), state: fc.anything() }),
    fc.record({ vm: fc.constant(VM), state: fc.record({ version: fc.constant(1), sessionId: fc.string(), nextSeq: fc.integer(), received: fc.integer(), replay: fc.array(fc.anything()) }) }),
  ), 60);
  for (const body of bodies) {
    const err = await t.throwsAsync(ch.request(HANDOVER_KIND, body, { timeoutMs: 2000 }));
    t.regex(String((err as { code?: string }).code), /INVALID_INPUT|PROTOCOL_VIOLATION|FRAME_TOO_LARGE/);
  }
  // Raw garbage on a fresh connection does not take the server down either.
  const raw = createConnection(path);
  raw.write('garbage\n{"t":"msg"}\n' + 'x'.repeat(100_000) + '\n');
  raw.destroy();
  t.is(accepted, 0);
  await waitFor('the server still answers', async () => {
    const good = new HandoverClient([{ name: 'b', connector: unixConnector(path) }], systemClock, 2000);
    await good.send(VM, state(1));
    return true;
  });
  t.is(accepted, 1);
});
