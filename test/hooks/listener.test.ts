// The daemon-side hook listener against hostile clients: whatever arrives on the socket is
// answered or dropped, counted, bounded, and the listener keeps serving valid hooks.
import test from 'ava';
import fc from 'fast-check';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { startHookListener, type HookEvent, type HookListener, type HookListenerOptions } from '../../src/adapters/hook/listener.js';
import { encodeFrame, type HookEventBody } from '../../src/adapters/hook/wire.js';
import { tempDir, waitFor, type Teardown } from '../support/proc.js';
import { VM_UUID } from './support.js';

const goodBody: HookEventBody = { object: 'vm1', operation: 'prepare', subOperation: 'begin', extra: '-', vm: { uuid: VM_UUID, name: 'vm1' }, driver: 'qemu' };

async function start(t: Teardown, o: Partial<HookListenerOptions> = {}): Promise<{ l: HookListener; events: HookEvent[] }> {
  const dir = await tempDir(t, 'vmanage-hookl-');
  const events: HookEvent[] = [];
  const l = await startHookListener({ path: join(dir, 'hook.sock'), onEvent: (e) => events.push(e), ...o });
  t.teardown(() => l.close());
  return { l, events };
}

/** Sends raw bytes, returns everything the listener wrote back before closing (or '' if it just closed). */
function exchange(path: string, data: string | Buffer, end = false): Promise<string> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => { out += d; });
    s.on('error', () => resolve(out));
    s.on('close', () => resolve(out));
    s.on('connect', () => { s.write(data); if (end) s.end(); });
  });
}

function parsed(reply: string): { kind: string; body: Record<string, unknown> } {
  return JSON.parse(reply.trim()) as { kind: string; body: Record<string, unknown> };
}

test('a valid hook event is delivered and answered allow by default', async (t) => {
  const { l, events } = await start(t);
  const reply = parsed(await exchange(l.path, encodeFrame('a', 'hook.event', goodBody)));
  t.deepEqual(reply, { v: 1, id: 'a', kind: 'hook.reply', body: { allow: true } } as never);
  t.like(events[0], { ...goodBody });
  t.is(l.counters.events, 1);
});

const hostile: ReadonlyArray<readonly [string, string, string, keyof HookListener['counters']]> = [
  ['garbage', 'not json at all\n', 'PROTOCOL_VIOLATION', 'badFrames'],
  ['a JSON array', '[1,2,3]\n', 'PROTOCOL_VIOLATION', 'badFrames'],
  ['a wrong version', '{"v":2,"id":"x","kind":"hook.event","body":{}}\n', 'PROTOCOL_VIOLATION', 'badFrames'],
  ['an unknown kind', encodeFrame('x', 'sla.report', goodBody), 'INVALID_INPUT', 'invalidEvents'],
  ['a bad UUID', encodeFrame('x', 'hook.event', { ...goodBody, vm: { uuid: 'nope', name: 'vm1' } }), 'INVALID_INPUT', 'invalidEvents'],
  ['a missing driver', encodeFrame('x', 'hook.event', { ...goodBody, driver: undefined }), 'INVALID_INPUT', 'invalidEvents'],
  ['a control character in the name', encodeFrame('x', 'hook.event', { ...goodBody, vm: { uuid: VM_UUID, name: 'a\u0001b' } }), 'INVALID_INPUT', 'invalidEvents'],
  ['an over-long frame', `${'x'.repeat(70 * 1024)}\n`, 'FRAME_TOO_LARGE', 'oversizeFrames'],
];

for (const [what, data, code, counter] of hostile) {
  test(`${what} is answered with ${code}, counted, and delivers nothing`, async (t) => {
    const { l, events } = await start(t);
    const reply = parsed(await exchange(l.path, data));
    t.is(reply.kind, 'error');
    t.is(reply.body['code'], code);
    t.is(l.counters[counter], 1);
    t.is(events.length, 0);
  });
}

test('a connection that sends nothing is closed at the deadline and counted', async (t) => {
  const { l } = await start(t, { idleTimeoutMs: 100 });
  t.is(await exchange(l.path, ''), '');
  t.is(l.counters.idleTimeouts, 1);
});

test('connections beyond the cap are refused and counted', async (t) => {
  const { l } = await start(t, { maxConnections: 2, idleTimeoutMs: 2_000 });
  const held = [createConnection(l.path), createConnection(l.path)];
  t.teardown(() => held.forEach((s) => s.destroy()));
  await waitFor('two connections', () => l.counters.connections === 2, 2_000);
  t.is(await exchange(l.path, encodeFrame('c', 'hook.event', goodBody)), '');
  t.is(l.counters.refusedConnections, 1);
});

test('an admission callback that throws or hangs allows the VM, and is counted', async (t) => {
  const throwing = await start(t, { admit: () => { throw new Error('policy bug'); } });
  t.like(parsed(await exchange(throwing.l.path, encodeFrame('a', 'hook.event', goodBody))).body, { allow: true, reason: 'admission failed' });
  t.is(throwing.l.counters.handlerErrors, 1);
  const hanging = await start(t, { admit: () => new Promise(() => undefined), decisionTimeoutMs: 50 });
  t.like(parsed(await exchange(hanging.l.path, encodeFrame('b', 'hook.event', goodBody))).body, { allow: true, reason: 'admission timed out' });
});

test('a throwing event handler is counted and does not break the reply', async (t) => {
  const { l } = await start(t, { onEvent: () => { throw new Error('bug'); } });
  t.like(parsed(await exchange(l.path, encodeFrame('a', 'hook.event', goodBody))).body, { allow: true });
  t.is(l.counters.handlerErrors, 1);
});

test('property: arbitrary bytes never crash the listener, and a valid hook is served afterwards', async (t) => {
  const { l, events } = await start(t, { idleTimeoutMs: 200 });
  await fc.assert(fc.asyncProperty(
    fc.oneof(fc.uint8Array({ maxLength: 2048 }).map((a) => Buffer.from(a)), fc.json().map((j) => `${j}\n`), fc.string().map((s) => `${s}\n`)),
    async (data) => {
      await exchange(l.path, data, true);
    },
  ), { numRuns: 60 });
  const before = events.length;
  t.like(parsed(await exchange(l.path, encodeFrame('z', 'hook.event', goodBody))).body, { allow: true });
  t.is(events.length, before + 1);
});
