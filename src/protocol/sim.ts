// The simulated world <-> host daemon kinds (the demo cluster, tests): a host daemon whose
// hypervisor is `sim:///HOST?world=SOCKET` and whose power sensor / frequency actuator are
// `sim-world` asks the world (one process, a unix socket) for its VMs, their CPU time, its power,
// and sets its frequency cap; the world tells it about VM lifecycle events and migration progress.
// Every request names the host it acts for (one world serves every simulated host).
// Units: W, kHz, KiB, ns, ms since the Unix epoch, bytes.
import { z } from 'zod';
import { epochMs, name64, uuid } from './common.js';
import { defineFamily } from './registry.js';

const host = z.object({ host: name64 });
const vmOf = host.extend({ vm: uuid });
const ok = z.object({ ok: z.literal(true) });

export const worldVm = z.object({
  uuid, name: name64,
  state: z.enum(['running', 'paused', 'shutoff']),
  vcpus: z.number().int().min(1).max(4096),
  memoryKiB: z.number().int().min(0).max(2 ** 50),
});

export const worldHostInfo = z.object({
  cpus: z.number().int().min(1).max(65_536),
  minKHz: z.number().int().positive(), maxKHz: z.number().int().positive(), capKHz: z.number().int().positive(),
  /** Current frequency the CPUs run at (= the cap in this world), kHz. */
  curKHz: z.number().int().positive(),
  memoryKiB: z.number().int().min(0).max(2 ** 50),
});

export const worldStats = z.object({
  /** CPU time the VM got since it started, ns (advances by the share it was given). */
  cpuTimeNs: z.number().min(0).finite(),
  memoryKiB: z.number().int().min(0).max(2 ** 50),
  timestamp: epochMs,
});

export const worldScheduler = z.object({
  cpuShares: z.number().int().min(2).max(262_144).optional(),
  vcpuQuotaUs: z.number().int().min(-1).max(17_592_186_044_415).optional(),
  vcpuPeriodUs: z.number().int().min(1000).max(1_000_000).optional(),
});

export const worldPower = z.object({ watts: z.number().min(0).finite(), utilisation: z.number().min(0).max(1), timestamp: epochMs });

export const worldEvent = z.object({
  host: name64, uuid, name: name64,
  kind: z.enum(['started', 'stopped', 'resumed', 'suspended']),
  /** libvirt's detail code (started/stopped/resumed: 1/3/1 = migrated, else 0). */
  detail: z.number().int().min(0).max(255),
  reason: z.enum(['booted', 'migrated', 'destroyed']).optional(),
});

export const worldProgress = z.object({
  host: name64, vm: uuid, to: name64,
  elapsedMs: z.number().int().min(0), totalBytes: z.number().int().min(0), processedBytes: z.number().int().min(0),
});

export const simFamily = defineFamily({
  name: 'sim',
  description: 'simulated world <-> host daemon (demo cluster)',
  kinds: [
    { kind: 'world.subscribe', direction: 'host->world', description: 'Send this host\'s VM events on this channel', body: host, reply: worldHostInfo },
    { kind: 'world.host', direction: 'host->world', description: 'CPUs, frequency limits and cap of the host', body: host, reply: worldHostInfo },
    { kind: 'world.vms', direction: 'host->world', description: 'VMs on the host (running, or paused while migrating in)', body: host, reply: z.object({ vms: z.array(worldVm).max(4096) }) },
    { kind: 'world.stats', direction: 'host->world', description: 'CPU time and memory of one VM', body: vmOf, reply: worldStats },
    { kind: 'world.scheduler.get', direction: 'host->world', description: 'CPU shares and quota of one VM', body: vmOf, reply: worldScheduler },
    { kind: 'world.scheduler.set', direction: 'host->world', description: 'Set CPU shares and quota of one VM', body: vmOf.extend(worldScheduler.shape), reply: ok },
    { kind: 'world.channel', direction: 'host->world', description: 'Host-side socket of the VM\'s agent channel', body: vmOf, reply: z.object({ path: z.string().min(1).max(4096) }) },
    {
      kind: 'world.migrate', direction: 'host->world', description: 'Live-migrate a VM; the reply comes when it ended',
      body: vmOf.extend({ to: name64, maxDowntimeMs: z.number().int().min(1).max(600_000).optional(), bandwidthMiBps: z.number().int().min(1).max(1_000_000).optional() }), reply: ok,
    },
    { kind: 'world.migrate-abort', direction: 'host->world', description: 'Abort a VM\'s migration', body: vmOf, reply: z.object({ aborted: z.boolean() }) },
    { kind: 'world.power', direction: 'host->world', description: 'Host power now', body: host, reply: worldPower },
    { kind: 'world.cap', direction: 'host->world', description: 'Set the host\'s frequency cap (kHz; absent: the maximum)', body: host.extend({ kHz: z.number().int().positive().optional() }), reply: ok },
    { kind: 'world.event', direction: 'world->host', description: 'A VM lifecycle event on the host', body: worldEvent },
    { kind: 'world.progress', direction: 'world->host', description: 'Progress of a migration leaving the host', body: worldProgress },
  ],
});

export type WorldVm = z.infer<typeof worldVm>;
export type WorldHostInfo = z.infer<typeof worldHostInfo>;
export type WorldStats = z.infer<typeof worldStats>;
export type WorldScheduler = z.infer<typeof worldScheduler>;
export type WorldPower = z.infer<typeof worldPower>;
export type WorldEvent = z.infer<typeof worldEvent>;
export type WorldProgress = z.infer<typeof worldProgress>;
