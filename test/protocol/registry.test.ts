import test from 'ava';
import { z } from 'zod';
import { createRegistry, defineFamily, guestFamily, hookFamily, vmanageRegistry } from '../../src/protocol/index.js';

const registry = vmanageRegistry();
const uuid = '4dea22b3-1d52-d8f3-2516-782e98ab3fa0';

const valid: [string, unknown][] = [
  ['agent.hello', { version: '0.1.0', capabilities: ['sla.report'] }],
  ['agent.heartbeat', { ts: 1_700_000_000_000, uptime_s: 12.5 }],
  ['sla.report', { status: 'violated', objective: { metric: 'latency_p99', op: '<=', target: 200, unit: 'ms' }, measured: { value: 350, unit: 'ms' }, window_s: 10, ts: 1_700_000_000_000 }],
  ['host.config', { report_interval_s: 5 }],
  ['hook.event', { object: 'qemu', operation: 'migrate', subOperation: 'begin', extra: '-', vm: { uuid, name: 'web-1' } }],
];
for (const [kind, body] of valid) {
  test(`a valid ${kind} body passes its schema`, (t) => {
    t.deepEqual(registry.checkBody(kind, body), { ok: true, value: body });
  });
}

const invalid: [string, string, unknown, RegExp][] = [
  ['an SLA status outside ok/violated', 'sla.report', { ...(valid[2]?.[1] as object), status: 'maybe' }, /status/],
  ['a non-finite measurement', 'sla.report', { ...(valid[2]?.[1] as object), measured: { value: '1e999', unit: 'ms' } }, /measured\.value/],
  ['a VM uuid that is not a UUID', 'hook.event', { object: 'qemu', operation: 'start', subOperation: 'begin', extra: '-', vm: { uuid: 'x', name: 'a' } }, /vm\.uuid/],
  ['a report interval of zero', 'host.config', { report_interval_s: 0 }, /report_interval_s/],
  ['an agent version longer than 64 characters', 'agent.hello', { version: 'v'.repeat(65), capabilities: [] }, /version/],
  ['a body that is not an object', 'agent.heartbeat', 'ts', /body|object/],
];
for (const [what, kind, body, mentions] of invalid) {
  test(`${what} is refused with INVALID_INPUT saying where`, (t) => {
    const r = registry.checkBody(kind, body);
    t.false(r.ok);
    if (!r.ok) {
      t.is(r.code, 'INVALID_INPUT');
      t.regex(r.message, mentions);
    }
  });
}

test('an unknown kind is UNSUPPORTED', (t) => {
  t.like(registry.checkBody('agent.nope', {}), { ok: false, code: 'UNSUPPORTED' });
});

test('hook.event replies are checked, and notifications have no reply', (t) => {
  t.deepEqual(registry.checkReply('hook.event', { allow: false, reason: 'budget' }), { ok: true, value: { allow: false, reason: 'budget' } });
  t.like(registry.checkReply('hook.event', { allow: 'no' }), { ok: false, code: 'INVALID_INPUT' });
  t.like(registry.checkReply('sla.report', {}), { ok: false, code: 'INVALID_INPUT' });
});

test('registering a kind twice is refused', (t) => {
  t.throws(() => createRegistry(guestFamily, guestFamily), { message: /registered twice/ });
});

test('kinds must be named family.name', (t) => {
  const bad = defineFamily({ name: 'x', description: 'x', kinds: [{ kind: 'Bad Kind', direction: 'any', description: 'x', body: z.object({}) }] });
  t.throws(() => createRegistry(bad), { message: /family\.name/ });
});

test('a new family is added with one explicit call', (t) => {
  const leader = defineFamily({ name: 'leader', description: 'x', kinds: [{ kind: 'leader.ping', direction: 'host->leader', description: 'x', body: z.object({ n: z.number() }) }] });
  const r = createRegistry(guestFamily, hookFamily, leader);
  t.true(r.has('leader.ping'));
  t.deepEqual(r.kinds(), ['agent.heartbeat', 'agent.hello', 'hook.event', 'host.config', 'leader.ping', 'sla.report']);
});

test('typed helpers carry kinds, bodies and replies through a real channel pair', async (t) => {
  const { Channel, memoryPair } = await import('../../src/mchannel/index.js');
  const { handleTyped, requestTyped, sendTyped } = await import('../../src/protocol/index.js');
  const [a, b] = memoryPair();
  const host = Channel.attached({ role: 'host', validator: registry });
  const hook = Channel.attached({ role: 'hook', validator: registry, acceptNewSession: false });
  t.teardown(async () => { await hook.close(); await host.close(); });
  handleTyped(host, 'hook.event', (body) => ({ allow: body.vm.name !== 'forbidden' }));
  host.attach(a, { initiate: false });
  hook.attach(b, { initiate: true });
  const reply = await requestTyped(hook, 'hook.event', { object: 'qemu', operation: 'start', subOperation: 'begin', extra: '-', vm: { uuid, name: 'forbidden' } });
  t.false(reply.allow);
  await sendTyped(hook, 'agent.heartbeat', { ts: 1 });
  const first = await host[Symbol.asyncIterator]().next();
  t.is(first.value?.kind, 'agent.heartbeat');
});
