// The agent over the xenstore transport (Xen guests): the agent is the client (it opens each
// connection under its domain path), dom0's ChannelServer serves it, and the identity dom0 sees
// is the VM of the xenstore path, never what the agent claims. Runs against the test xenstored.
import test from 'ava';
import { connectXenstoreSocket } from '../../src/adapters/xen/connect.js';
import { Agent, type AgentTimers } from '../../src/daemons/agent/agent.js';
import { parseConfig } from '../../src/daemons/agent/config.js';
import { createAgentLink } from '../../src/daemons/agent/link.js';
import { createLogger } from '../../src/daemons/agent/log.js';
import { ChannelServer } from '../../src/mchannel/server.js';
import type { Channel } from '../../src/mchannel/channel.js';
import { XenstoreConnector, XenstoreListener } from '../../src/mchannel/transports/xenstore.js';
import { guestFamily } from '../../src/protocol/guest.js';
import { createRegistry } from '../../src/protocol/registry.js';
import { startXenstored } from '../support/xenstored.js';
import { waitFor } from '../support/proc.js';

const UUID = '0b5e3c1a-7d2f-4e8a-9c6b-1a2b3c4d5e6f';
const noTimers: AgentTimers = { every: () => ({ cancel: () => {} }), now: () => Date.now() };

test('the agent reports over xenstore and dom0 knows it by the VM of its path', async (t) => {
  const xsd = await startXenstored(t);
  const dom0 = await connectXenstoreSocket(xsd.socketPath);
  t.teardown(() => dom0.close());
  const listener = new XenstoreListener(dom0, {});
  const server = new ChannelServer(listener, { role: 'host', validator: createRegistry(guestFamily) });
  t.teardown(() => server.close());
  const channels: Channel[] = [];
  server.events.on('channel', (ch) => channels.push(ch));
  await xsd.guestSocket(7);
  await dom0.write('/local/domain/7/vm', `/vm/${UUID}`);
  await listener.serve(7);

  const guestXs = await connectXenstoreSocket(await xsd.guestSocket(7));
  t.teardown(() => guestXs.close());
  const cfg = parseConfig({ transport: 'xenstore', objectives: [{ name: 'n', source: 'push', op: '<=', target: 5 }] });
  const quiet = createLogger('error');
  const link = createAgentLink(cfg, quiet, new XenstoreConnector(guestXs, { acceptTimeoutMs: 3000 }));
  t.teardown(() => link.channel.detach());
  const agent = new Agent(cfg, link, quiet, noTimers);
  agent.push.put('n', 9);
  await agent.report();

  const ch = await waitFor('the agent session at dom0', () => channels[0]);
  const got: { kind: string; body: unknown }[] = [];
  void (async () => { for await (const m of ch) got.push(m); })();
  await waitFor('hello and report', () => got.length >= 2, 10_000);
  t.deepEqual(got.map((m) => m.kind), ['agent.hello', 'sla.report']);
  t.like(got[1]?.body, { status: 'violated', measured: { value: 9, unit: '' } });
  t.is(ch.peer?.id, UUID);
});
