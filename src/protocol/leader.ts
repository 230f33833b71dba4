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
/** A VM's SLA class (domain/cluster.ts SlaClass). */
const slaClass = z.enum(['gold', 'silver', 'bronze']);
const trustLevel = z.enum(['untrusted', 'standard', 'trusted', 'attested']);
/** Largest domain XML a create-vm command carries, UTF-8 bytes (fits one 64 KiB frame once JSON-escaped). */
export const MAX_CREATE_XML_BYTES = 24 * 1024;

export const hostRegister = z.object({
  host: name64,
  cpus: z.number().int().min(1).max(65_536),
  memoryKiB: z.number().int().min(0).max(2 ** 50),
  /** Power model (configured) or measured idle/peak, W. */
  power: z.object({ idleWatts: watts, peakWatts: watts, measured: z.boolean() }),
  /** Host reliability score, 0 (failing) .. 1 (healthy). */
  reliability: z.number().min(0).max(1),
  /** Configured trust level (domain/cluster.ts TRUST_LEVELS); the leader lowers it by `signals`. */
  trust: trustLevel,
  /** Measured platform signals, when the host can read them (absent: unknown). */
  signals: z.object({ secureBoot: z.boolean().optional(), tpm: z.boolean().optional() }).strict().optional(),
  frequency: z.object({ minKHz: z.number().int().min(0), maxKHz: z.number().int().min(0) }),
  /** Measured or SPECpower average power at 0, 10, ..., 100 % load (11 points), W; absent: linear idle..peak. */
  powerTableWatts: z.array(watts).length(11).optional(),
  /** Highest budget the host can use (its cap range or peak power), W; absent: peakWatts. */
  capWatts: watts.optional(),
  /** libvirt URI other hosts' libvirtd use to reach this host for peer-to-peer live migration
   *  (e.g. qemu+tls://host-b/system); absent: this host takes no migrated VM. */
  migrationUri: z.string().min(1).max(1024).optional(),
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
  vms: z.array(z.object({
    uuid,
    name: name64.optional(),
    cpuUtil: z.number().min(0).max(1),
    sla: z.enum(['ok', 'violated', 'unknown']),
    vcpus: z.number().int().min(1).max(4096).optional(),
    memoryKiB: z.number().int().min(0).max(2 ** 50).optional(),
    /** From the vmanage metadata in the domain XML (set at creation or by the admin; never by the
     *  guest). Optional: absent (old hosts, no metadata) the leader takes silver, 0, untrusted. */
    slaClass: slaClass.optional(),
    /** Least host reliability (0..1) and trust level this VM may run on (placement and migration). */
    minReliability: z.number().min(0).max(1).optional(),
    minTrust: trustLevel.optional(),
  })).max(4096),
  reliability: z.number().min(0).max(1),
  /** Budget violations (measured power over budget) counted by the host since it started. */
  budgetViolations: z.number().int().min(0).optional(),
}).describe('Periodic host state');

export const leaderBudget = z.object({ token, watts: watts.refine((w) => w > 0, 'watts > 0') }).describe('The host power budget, W');

/**
 * update-now: send a host.update at once; release: the leader stops managing this host (it keeps
 * the last budget until its fail-safe timeout, then the safe budget); migrate: live-migrate `vm`
 * peer-to-peer to host `to` at libvirt URI `destinationUri` (the reply says whether it started;
 * progress and the end come as host.migration-status); abort-migration: abort `vm`'s migration;
 * power-off: shut the host down for consolidation (the host refuses while it runs VMs);
 * create-vm (optional: a host without it refuses the command): define the domain `xml` with the
 * vmanage metadata (slaClass, minReliability, minTrust) and start it; the reply says whether it
 * runs (`vm`: its UUID) or libvirt's refusal.
 */
export const leaderCommand = z.discriminatedUnion('op', [
  z.object({ token, op: z.literal('update-now') }).strict(),
  z.object({ token, op: z.literal('release') }).strict(),
  z.object({
    token, op: z.literal('migrate'), vm: uuid, to: name64, destinationUri: z.string().min(1).max(1024),
    /** Leader's migration id (journal), echoed in host.migration-status. */
    migrationId: z.number().int().min(0),
    maxDowntimeMs: z.number().int().min(1).max(600_000).optional(),
    bandwidthMiBps: z.number().int().min(1).max(1_000_000).optional(),
  }).strict(),
  z.object({ token, op: z.literal('abort-migration'), vm: uuid, migrationId: z.number().int().min(0) }).strict(),
  z.object({ token, op: z.literal('power-off') }).strict(),
  z.object({
    token, op: z.literal('create-vm'),
    xml: z.string().min(1).max(MAX_CREATE_XML_BYTES).refine((x) => Buffer.byteLength(x) <= MAX_CREATE_XML_BYTES, `at most ${MAX_CREATE_XML_BYTES} bytes`),
    /** The leader's place-vm decision (journal), for the host's log. */
    decisionId: z.number().int().min(0),
    slaClass, minReliability: z.number().min(0).max(1).optional(), minTrust: trustLevel.optional(),
  }).strict(),
]).describe('A command from the leader');

export const leaderCommandReply = z.object({
  done: z.boolean(), reason: z.string().max(1024).optional(),
  /** create-vm: the UUID of the VM created (optional, additive). */
  vm: uuid.optional(),
});

export const migrationRequest = z.object({
  vm: uuid,
  /** Watts the host needs to shed. */
  shedWatts: watts,
  reason: z.string().max(1024),
}).describe('The host asks the leader to move a VM away');

export const migrationReply = z.object({ accepted: z.boolean(), reason: z.string().max(1024).optional() });

export const migrationStatus = z.object({
  migrationId: z.number().int().min(0),
  vm: uuid,
  to: name64,
  state: z.enum(['running', 'succeeded', 'failed', 'aborted']),
  /** Fraction of memory copied so far, 0..1 (running). */
  progress: z.number().min(0).max(1).optional(),
  elapsedMs: z.number().int().min(0),
  /** What went wrong (failed / aborted), as the host's error code and message. */
  error: z.string().max(2048).optional(),
}).describe('Progress and end of a leader-ordered live migration, from the source host');

export const leaderFamily = defineFamily({
  name: 'leader',
  description: 'host daemon <-> cluster leader',
  kinds: [
    { kind: 'host.register', direction: 'host->leader', description: 'Registration with capacity, power model, reliability and trust', body: hostRegister, reply: hostRegisterReply },
    { kind: 'host.update', direction: 'host->leader', description: 'Periodic host state', body: hostUpdate },
    { kind: 'host.migration-request', direction: 'host->leader', description: 'Ask for a VM to be moved away', body: migrationRequest, reply: migrationReply },
    { kind: 'host.migration-status', direction: 'host->leader', description: 'Progress and end of a leader-ordered migration', body: migrationStatus },
    { kind: 'leader.budget', direction: 'leader->host', description: 'Host power budget with the fencing token', body: leaderBudget },
    { kind: 'leader.command', direction: 'leader->host', description: 'A command with the fencing token', body: leaderCommand, reply: leaderCommandReply },
  ],
});

export type HostRegister = z.infer<typeof hostRegister>;
export type HostRegisterReply = z.infer<typeof hostRegisterReply>;
export type HostUpdate = z.infer<typeof hostUpdate>;
export type LeaderBudget = z.infer<typeof leaderBudget>;
export type LeaderCommand = z.infer<typeof leaderCommand>;
export type CreateVmCommand = Extract<LeaderCommand, { op: 'create-vm' }>;
export type MigrationRequest = z.infer<typeof migrationRequest>;
export type MigrationStatus = z.infer<typeof migrationStatus>;
