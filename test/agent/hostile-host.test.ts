import test from 'ava';
import fc from 'fast-check';
import { Agent, type AgentTimers } from '../../src/daemons/agent/agent.js';
import { parseConfig } from '../../src/daemons/agent/config.js';
import { createAgentLink } from '../../src/daemons/agent/link.js';
import { createLogger } from '../../src/daemons/agent/log.js';
import { Channel } from '../../src/mchannel/channel.js';
import { memoryPair } from '../../src/mchannel/transports/memory.js';
import { guestFamily } from '../../src/protocol/guest.js';
import { createRegistry } from '../../src/protocol/registry.js';
import { waitFor } from '../support/proc.js';

const quiet = createLogger('error');
const noTimers: AgentTimers = { every: () => ({ cancel: () => {} }), now: () => Date.now() };

function agentOn() {
  const cfg = parseConfig({ maxQueuedReports: 8, objectives: [{ name: 'n', source: 'push', op: '<=', target: 10 }] });
  const link = createAgentLink(cfg, quiet);
  const agent = new Agent(cfg, link, quiet, noTimers);
  return { cfg, link, agent };
}

const frame = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.record({ t: fc.constantFrom('hello', 'msg', 'ack', 'hb', 'bye'), s: fc.integer(), a: fc.integer(), k: fc.string(), b: fc.anything(), sid: fc.string(), v: fc.integer(), inc: fc.string(), ack: fc.integer(), base: fc.integer(), re: fc.boolean() }, { requiredKeys: ['t'] })
    .map((v) => JSON.stringify(v)),
  fc.constantFrom('{"t":"msg","s":1,"a":0,"k":"host.config","b":{"report_interval_s":-5}}', 'x'.repeat(70_000), '\u0000\u0001'),
);

test('garbage from the host never throws in the agent, and a real host is served afterwards', async (t) => {
  await fc.assert(fc.asyncProperty(fc.array(frame, { maxLength: 40 }), async (lines) => {
    const { link, agent } = agentOn();
    const [guestEnd, hostEnd] = memoryPair('agent', 'host');
    link.attach(guestEnd);
    for (const l of lines) hostEnd.stream.write(`${l}\n`);
    await new Promise((r) => setImmediate(r));
    agent.push.put('n', 3);
    const results = await agent.report();
    // Garbage may cost the connection (error budget), never the agent's session or its reports.
    const alive = link.channel.state !== 'closed' && results?.[0]?.status === 'ok';
    link.channel.detach();
    hostEnd.stream.destroy();
    return alive;
  }), { numRuns: 60 });

  // After a burst of garbage the same agent still talks to a proper host on a new connection.
  const { link, agent } = agentOn();
  const [g1, h1] = memoryPair('agent', 'host');
  link.attach(g1);
  for (const l of fc.sample(frame, 200)) h1.stream.write(`${l}\n`);
  h1.stream.destroy();
  const [g2, h2] = memoryPair('agent', 'host');
  const host = Channel.attached({ role: 'host', validator: createRegistry(guestFamily) });
  host.attach(h2, { initiate: true });
  link.attach(g2);
  t.teardown(() => { host.detach(); link.channel.detach(); });
  agent.push.put('n', 12);
  await agent.report();
  const got: { kind: string; body: unknown }[] = [];
  void (async () => { for await (const m of host) got.push(m); })();
  await waitFor('the report', () => got.some((m) => m.kind === 'sla.report'));
  const report = got.find((m) => m.kind === 'sla.report')?.body as { status: string; measured: { value: number } };
  t.is(report.status, 'violated');
  t.is(report.measured.value, 12);
  t.true(got.some((m) => m.kind === 'agent.hello'));
});

test('host.config changes the report period; an out-of-range period is refused at the boundary', async (t) => {
  const { link, agent } = agentOn();
  const [g, h] = memoryPair('agent', 'host');
  const host = Channel.attached({ role: 'host', validator: createRegistry(guestFamily) });
  host.attach(h, { initiate: true });
  link.attach(g);
  t.teardown(() => { host.detach(); link.channel.detach(); });
  await host.whenConnected();
  await host.send('host.config', { report_interval_s: 0.5 });
  await waitFor('applied', () => agent.stats.hostMessages === 1);
  t.is(agent.stats.hostMessagesRejected, 0);
  await t.throwsAsync(host.send('host.config', { report_interval_s: 99_999 }), { code: 'INVALID_INPUT' });
});

test('while no host ever connected, queued messages stay bounded', async (t) => {
  const { cfg, agent, link } = agentOn();
  for (let i = 0; i < 100; i++) {
    agent.push.put('n', i);
    await agent.report();
  }
  const [g, h] = memoryPair('agent', 'host');
  const host = Channel.attached({ role: 'host', validator: createRegistry(guestFamily) });
  host.attach(h, { initiate: true });
  link.attach(g);
  t.teardown(() => { host.detach(); link.channel.detach(); });
  const got: number[] = [];
  void (async () => { for await (const m of host) if (m.kind === 'sla.report') got.push((m.body as { measured: { value: number } }).measured.value); })();
  await waitFor('the queued reports', () => got.length === cfg.maxQueuedReports * 2);
  t.deepEqual(got, Array.from({ length: 16 }, (_, i) => 84 + i), 'the newest are kept, in order');
});
