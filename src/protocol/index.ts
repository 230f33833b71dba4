// Message kinds of vmanage and their schemas. Add a family in its own file and list it in
// allFamilies (the one explicit registration); `npm run schemas` then refreshes schemas/.
import { guestFamily } from './guest.js';
import { hookFamily } from './hook.js';
import { leaderFamily } from './leader.js';
import { createRegistry, type MessageFamily, type ProtocolRegistry } from './registry.js';

export { createRegistry, defineFamily, ProtocolRegistry, type BodyOf, type KindSpec, type MessageFamily, type ReplyOf } from './registry.js';
export { guestFamily, agentHello, agentHeartbeat, slaReport, hostConfig, type AgentHello, type AgentHeartbeat, type SlaReport, type HostConfig } from './guest.js';
export { hookFamily, hookEvent, hookReply, type HookEvent, type HookReply } from './hook.js';
export { jsonSchemas, schemaText } from './json-schema.js';

/** Every family vmanage speaks (leader kinds are added here by the broker work). */
export const allFamilies: readonly MessageFamily[] = [guestFamily, hookFamily, leaderFamily];
export { leaderFamily } from './leader.js';

/** A registry with every family: what daemons pass as the channel validator. */
export function vmanageRegistry(): ProtocolRegistry {
  return createRegistry(...allFamilies);
}
export { handleTyped, requestTyped, sendTyped, type Bodies, type Replies } from './typed.js';
