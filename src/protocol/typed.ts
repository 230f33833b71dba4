// Compile-time types for the kinds vmanage speaks, and thin typed wrappers over a Channel. The
// channel validates every body and reply against the registry at run time, so the casts here are
// backed by a check (a reply that fails its schema rejects with INVALID_INPUT).
import type { Channel } from '../mchannel/channel.js';
import type { AgentHeartbeat, AgentHello, HostConfig, SlaReport } from './guest.js';
import type { HookEvent, HookReply } from './hook.js';

/** Body type of every kind. */
export interface Bodies {
  'agent.hello': AgentHello;
  'agent.heartbeat': AgentHeartbeat;
  'sla.report': SlaReport;
  'host.config': HostConfig;
  'hook.event': HookEvent;
}

/** Reply type of every request kind. */
export interface Replies {
  'hook.event': HookReply;
}

export function sendTyped<K extends keyof Bodies>(ch: Pick<Channel, 'send'>, kind: K, body: Bodies[K]): Promise<void> {
  return ch.send(kind, body);
}

export async function requestTyped<K extends keyof Replies & keyof Bodies>(
  ch: Pick<Channel, 'request'>, kind: K, body: Bodies[K], opts?: { timeoutMs?: number },
): Promise<Replies[K]> {
  return (await ch.request(kind, body, opts)) as Replies[K];
}

export function handleTyped<K extends keyof Replies & keyof Bodies>(
  ch: Pick<Channel, 'handle'>, kind: K, handler: (body: Bodies[K], ctx: Parameters<Parameters<Channel['handle']>[1]>[1]) => Replies[K] | Promise<Replies[K]>,
): void {
  ch.handle(kind, (body, ctx) => handler(body as Bodies[K], ctx));
}
