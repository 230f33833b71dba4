// Host daemon <-> Cluster Leader kinds (host daemon is the client, TCP + mutual TLS). The host
// registers its capacity, power model and trust, sends periodic updates and asks for migrations;
// the leader sends budgets and commands, each with the fencing token of its term: a host refuses
// anything whose token is older than the newest it has seen (a deposed leader cannot overrule
// its successor). Units: W, kHz, KiB, ms since the Unix epoch.
import { z } from 'zod';
import { epochMs, name64, uuid } from './common.js';
import { defineFamily } from './registry.js';

const watts = z.number().finite().min(0).max(1_000_000);
/** Leader term's fencing token: grows with every new leader. */
const token = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const hostRegister = z.object({
  host: name64,
  cpus: z.number().int().min(1).max(65_536),
  memoryKiB: z.number().int().min(0).max(2 ** 50),
  /** Power model (configured) or measured idle/peak, W. */
  power: z.object({ idleWatts: watts, peakWatts: watts, measured: z.boolean() }),
  /** Host reliability score, 0 (failing) .. 1 (healthy). */
  reliability: z.number().min(0).max(1),
  trust: z.enum(['trusted', 'restricted', 'untrusted']),
  frequency: z.object({ minKHz: z.number().int().min(0), maxKHz: z.number().int().min(0) }),
}).describe('A host daemon introduces itself to the leader');

export const hostRegisterReply = z.object({
  accepted: z.boolean(),
  /** The leader's current fencing token. */
  token,
  reason: z.string().max(1024).optional(),
});

export const hostUpdate = z.object({
  ts: epochMs,
  watts: watts.optional(),
  budgetWatts: watts,
  budgetSource: z.enum(['leader', 'last-known', 'safe', 'config']),
  capKHz: z.number().int().min(0),
  vms: z.array(z.object({ uuid, cpuUtil: z.number().min(0).max(1), sla: z.enum(['ok', 'violated', 'unknown']) })).max(4096),
  reliability: z.number().min(0).max(1),
}).describe('Periodic host state');

export const leaderBudget = z.object({ token, watts: watts.refine((w) => w > 0, 'watts > 0') }).describe('The host power budget, W');

export const leaderCommand = z.object({
  token,
  /** update-now: send a host.update at once; release: the leader stops managing this host (it
   *  keeps the last budget until its fail-safe timeout, then the safe budget). */
  op: z.enum(['update-now', 'release']),
}).describe('A command from the leader');

export const leaderCommandReply = z.object({ done: z.boolean(), reason: z.string().max(1024).optional() });

export const migrationRequest = z.object({
  vm: uuid,
  /** Watts the host needs to shed. */
  shedWatts: watts,
  reason: z.string().max(1024),
}).describe('The host asks the leader to move a VM away');

export const migrationReply = z.object({ accepted: z.boolean(), reason: z.string().max(1024).optional() });

export const leaderFamily = defineFamily({
  name: 'leader',
  description: 'host daemon <-> cluster leader',
  kinds: [
    { kind: 'host.register', direction: 'host->leader', description: 'Registration with capacity, power model, reliability and trust', body: hostRegister, reply: hostRegisterReply },
    { kind: 'host.update', direction: 'host->leader', description: 'Periodic host state', body: hostUpdate },
    { kind: 'host.migration-request', direction: 'host->leader', description: 'Ask for a VM to be moved away', body: migrationRequest, reply: migrationReply },
    { kind: 'leader.budget', direction: 'leader->host', description: 'Host power budget with the fencing token', body: leaderBudget },
    { kind: 'leader.command', direction: 'leader->host', description: 'A command with the fencing token', body: leaderCommand, reply: leaderCommandReply },
  ],
});

export type HostRegister = z.infer<typeof hostRegister>;
export type HostRegisterReply = z.infer<typeof hostRegisterReply>;
export type HostUpdate = z.infer<typeof hostUpdate>;
export type LeaderBudget = z.infer<typeof leaderBudget>;
export type LeaderCommand = z.infer<typeof leaderCommand>;
export type MigrationRequest = z.infer<typeof migrationRequest>;
