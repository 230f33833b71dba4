// Shared set-ups for channel tests: a client and a server session joined in memory.
import type { ExecutionContext } from 'ava';
import { Channel, ChannelServer, acceptAnything, memoryNetwork, type ChannelOptions, type ChannelServerOptions, type Incoming, type MemoryNetwork } from '../../src/mchannel/index.js';

export interface Joined {
  net: MemoryNetwork;
  server: ChannelServer;
  client: Channel;
  /** The server-side channel of the client's session. */
  serverSide: Promise<Channel>;
}

export async function joined(t: ExecutionContext, clientOpts: Partial<ChannelOptions> = {}, serverOpts: Partial<ChannelServerOptions> = {}): Promise<Joined> {
  const net = memoryNetwork();
  const server = new ChannelServer(net.listener, { role: 'host', validator: acceptAnything, backoffMinMs: 1, ...serverOpts });
  const serverSide = new Promise<Channel>((resolve) => server.events.once('channel', resolve));
  const client = Channel.client(net.connector, { role: 'agent', validator: acceptAnything, backoffMinMs: 1, backoffMaxMs: 20, ...clientOpts });
  t.teardown(async () => {
    await client.close().catch(() => {});
    await server.close();
  });
  await client.whenConnected();
  return { net, server, client, serverSide };
}

/** Takes n notifications from a channel. */
export async function take(ch: AsyncIterable<Incoming>, n: number): Promise<Incoming[]> {
  const out: Incoming[] = [];
  if (n === 0) return out;
  for await (const m of ch) {
    out.push(m);
    if (out.length >= n) break;
  }
  return out;
}

/** Resolves when the predicate holds, polling every 2 ms. */
export async function until(what: string, pred: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
