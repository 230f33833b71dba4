// Guest <-> host kinds: the in-guest agent talks to its host daemon over virtio-serial or
// xenstore. Everything a guest sends is untrusted: bounded strings, finite numbers.
import { z } from 'zod';
import { epochMs, finite, name64 } from './common.js';
import { defineFamily } from './registry.js';

export const agentHello = z.object({
  /** Agent software version, e.g. '0.1.0'. */
  version: z.string().min(1).max(64),
  /** What the agent can do, e.g. ['sla.report']. */
  capabilities: z.array(name64).max(64),
}).describe('First message of an agent on a new session');

export const agentHeartbeat = z.object({
  ts: epochMs,
  /** Seconds since the agent started. */
  uptime_s: z.number().min(0).finite().optional(),
}).describe('Agent liveness');

export const slaObjective = z.object({
  /** What is measured, e.g. 'latency_p99', 'throughput'. */
  metric: name64,
  /** The objective holds when `measured op target`. */
  op: z.enum(['<', '<=', '>', '>=']),
  target: finite,
  unit: z.string().max(32),
});

export const slaReport = z.object({
  status: z.enum(['ok', 'violated']),
  objective: slaObjective,
  measured: z.object({ value: finite, unit: z.string().max(32) }),
  /** Length of the measurement window, seconds. */
  window_s: z.number().positive().max(86_400),
  /** End of the window, ms since the Unix epoch. */
  ts: epochMs,
}).describe("The guest's own view of its service level over the last window");

export const hostConfig = z.object({
  /** How often the agent sends sla.report, seconds. */
  report_interval_s: z.number().min(0.1).max(3600),
}).describe('Settings the host daemon gives the agent');

export const guestFamily = defineFamily({
  name: 'guest',
  description: 'Guest agent <-> host daemon',
  kinds: [
    { kind: 'agent.hello', direction: 'guest->host', description: 'Agent announces its version and capabilities', body: agentHello },
    { kind: 'agent.heartbeat', direction: 'guest->host', description: 'Agent liveness', body: agentHeartbeat },
    { kind: 'sla.report', direction: 'guest->host', description: 'SLA status measured inside the guest', body: slaReport },
    { kind: 'host.config', direction: 'host->guest', description: 'Agent settings from the host', body: hostConfig },
  ],
});

export type AgentHello = z.infer<typeof agentHello>;
export type AgentHeartbeat = z.infer<typeof agentHeartbeat>;
export type SlaReport = z.infer<typeof slaReport>;
export type HostConfig = z.infer<typeof hostConfig>;
