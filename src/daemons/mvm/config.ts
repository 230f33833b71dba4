// The host daemon's configuration (/etc/vmanage/mvm.yaml; YAML, so JSON works too), validated at
// startup: every problem is reported as `path: what is wrong`, all at once, and the daemon exits
// non-zero. Sections: hypervisor, guest channels, hooks, session handover, power (sensor,
// actuator, model, budget, policies), control socket, metrics, systemd watchdog.
import { readConfigFile } from '../../adapters/config-file.js';
import { z } from 'zod';
import { BmcConfigSchema } from '../../adapters/power/ipmi-bmc.js';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';

const absPath = z.string().regex(/^\//, 'an absolute path').max(4096);

/** A peer endpoint: a unix socket (tests, one machine) or TCP + mutual TLS (real hosts). */
const endpoint = z.union([
  z.object({ unix: absPath }).strict(),
  z.object({
    tls: z.object({
      host: z.string().min(1).max(255), port: z.number().int().min(1).max(65535),
      /** Expected certificate name of the peer (client side). */
      serverName: z.string().min(1).max(255).optional(),
      ca: absPath, cert: absPath, key: absPath,
    }).strict(),
  }).strict(),
]);

const watts = z.number().positive().max(100_000);

/** Power management: where watts are read, which knobs move, and under which budget. Units: W, kHz, ms. */
const power = z.object({
  /** Power sensor. powerd: powerd's sensor; sim: a modelled host (utilisation x frequency cap);
   *  rapl: package energy counters read here; bmc: the host's BMC (IPMI DCMI / sensors, Redfish). */
  sensor: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('powerd') }).strict(),
    z.object({ kind: z.literal('rapl'), root: absPath.optional() }).strict(),
    z.object({ kind: z.literal('bmc'), bmc: BmcConfigSchema }).strict(),
    z.object({ kind: z.literal('sim'), utilisation: z.number().min(0).max(1).default(0.5) }).strict(),
    // The simulated world's power for this host (demo cluster; needs actuator sim-world).
    z.object({ kind: z.literal('sim-world') }).strict(),
  ]),
  /** The frequency cap (and power limit) actuator: vmanage-powerd on the system bus. */
  actuator: z.discriminatedUnion('kind', [z.object({
    kind: z.literal('powerd'),
    /** D-Bus address of powerd's bus (default: the system bus). */
    busAddress: z.string().min(1).max(4096).optional(),
    /** powerd power-limit source to drive as a backstop ("rapl", "dcmi", ...); none if absent. */
    limitSource: z.string().min(1).max(64).optional(),
    timeoutMs: z.number().int().min(10).max(60_000).default(2000),
  }).strict(),
  // The simulated world's cap for this host (demo cluster): sim:///HOST?world=/path/world.sock.
  z.object({ kind: z.literal('sim-world'), uri: z.string().regex(/^sim:\/\/\/[^?]+\?world=\//, 'sim:///HOST?world=/path/to/world.sock').max(4096), timeoutMs: z.number().int().min(10).max(60_000).default(2000) }).strict()]),
  /** Host power model (linear idle..peak, DVFS-aware with a voltage floor). */
  model: z.object({ idleWatts: watts, peakWatts: watts, vFloor: z.number().min(0).max(1).default(0.6) }).strict()
    .refine((m) => m.peakWatts > m.idleWatts, 'peakWatts must be above idleWatts'),
  /** Cap written at startup (start conservative); default: leave the hardware maximum. */
  startCapKHz: z.number().int().positive().optional(),
  budget: z.object({
    /** Budget used until a leader gives one, W. */
    watts: watts.optional(),
    /** Budget after the leader has been silent for leaderTimeoutMs, W. */
    safeWatts: watts,
    leaderTimeoutMs: z.number().int().min(1000).max(86_400_000).default(60_000),
  }).strict(),
  /** Control period, ms, and the least gap between cycles asked for out of period. */
  periodMs: z.number().int().min(50).max(600_000).default(1000),
  minGapMs: z.number().int().min(0).max(60_000).default(100),
  /** How often the sensor is read, ms. */
  readIntervalMs: z.number().int().min(50).max(600_000).default(1000),
  /** Policy set, in order: {name, params?} (docs/policies.md). */
  policies: z.array(z.object({ name: z.string().min(1).max(64), params: z.record(z.string(), z.unknown()).optional() }).strict()).max(32)
    .default([{ name: 'sla-dvfs' }, { name: 'budget', params: { raise: false } }, { name: 'violation-trigger' }, { name: 'fail-safe' }]),
  /** Safety-rail overrides per decision kind (src/broker/rails.ts), e.g. {"set-frequency-cap": {dwellMs: 0}}. */
  rails: z.partialRecord(z.enum(['set-frequency-cap', 'set-power-limit', 'set-vm-shares', 'set-vm-quota', 'request-migration']), z.object({
    dwellMs: z.number().int().min(0).max(86_400_000).optional(),
    windowMs: z.number().int().min(1).max(86_400_000).optional(),
    maxChanges: z.number().int().min(1).max(1_000_000).optional(),
    kindMaxChanges: z.number().int().min(1).max(1_000_000).optional(),
    cooldownMs: z.number().int().min(0).max(86_400_000).optional(),
  }).strict()).default({}),
  /** Per-VM gate on guest SLA reports (token bucket); default burst 5, 2 a second. */
  reports: z.object({ burst: z.number().int().min(1).max(10_000), perSecond: z.number().positive().max(10_000) }).strict().optional(),
  /** Decide and journal, but touch nothing. */
  dryRun: z.boolean().default(false),
  /** Whether the leader's power-off command (consolidation) may shut this host down (logind). */
  allowPowerOff: z.boolean().default(false),
}).strict().refine((p) => (p.sensor.kind === 'sim-world') === (p.actuator.kind === 'sim-world'), { path: ['sensor', 'kind'], message: 'sensor sim-world and actuator sim-world go together' });

export const mvmConfigSchema = z.object({
  /** This host's name (peers address each other by it). */
  host: z.string().min(1).max(128),
  hypervisor: z.object({
    uri: z.string().min(1).max(1024).default('qemu:///system'),
    /** D-Bus address of the bus libvirt-dbus serves (default: the system bus). */
    busAddress: z.string().min(1).max(4096).optional(),
  }).strict(),
  /** How guest agents are reached: virtio-serial (KVM: QEMU's org.vmanage.agent.0 socket, the
   *  default) or xenstore (Xen dom0: guests connect over xenstore; xenstoreSocket is xenstored's
   *  dom0 socket, default /var/run/xenstored/socket). */
  guests: z.object({
    transport: z.enum(['virtio-serial', 'xenstore']).default('virtio-serial'),
    xenstoreSocket: absPath.optional(),
  }).strict().refine((g) => g.transport === 'xenstore' || g.xenstoreSocket === undefined, { path: ['xenstoreSocket'], message: 'only with transport xenstore' })
    .default({ transport: 'virtio-serial' }),
  hooks: z.object({ socket: absPath }).strict().optional(),
  /** Guest sessions are saved here on shutdown and resumed at the next start (daemon restart
   *  without losing or repeating a guest message). */
  stateFile: absPath.optional(),
  handover: z.object({
    listen: endpoint.optional(),
    peers: z.array(z.object({ name: z.string().min(1).max(128) }).and(endpoint)).max(256).default([]),
    /** How long a migrated-in VM waits for its session state before starting a new one, ms. */
    waitMs: z.number().int().min(0).max(600_000).default(30_000),
  }).strict().default({ peers: [], waitMs: 30_000 }),
  power: power.optional(),
  /** The Cluster Leader (needs the power section): register, updates, budgets, migration requests. */
  leader: z.object({
    /** One leader endpoint (same as endpoints: [endpoint]). */
    endpoint: endpoint.optional(),
    /** The leader and its standbys, tried in order (the next after a failure or "not the leader"). */
    endpoints: z.array(endpoint).min(1).max(16).optional(),
    /** libvirt URI other hosts' libvirtd use to migrate VMs here (e.g. qemu+tls://host-b/system);
     *  absent: this host takes no migrated VM. */
    migrationUri: z.string().min(1).max(1024).optional(),
    /** Highest budget this host can use, W (default: the power model's peak). */
    capWatts: watts.optional(),
    /** Root under which Secure Boot (efivars) and TPM presence are read; null: not reported. */
    platformRoot: absPath.nullable().default('/'),
    /** Leader-ordered migrations under way at once. */
    maxMigrations: z.number().int().min(1).max(16).default(1),
    /** host.update period, ms. */
    updateMs: z.number().int().min(100).max(600_000).default(5000),
    /** What the leader may place on this host. */
    trust: z.enum(['untrusted', 'standard', 'trusted', 'attested']).default('trusted'),
  }).strict().refine((l) => (l.endpoint === undefined) !== (l.endpoints === undefined), 'give endpoint or endpoints (one of them)').optional(),
  /** Hardware reliability score (EDAC, rasdaemon) fed to the policies and the leader; absent: score 1. */
  reliability: z.object({
    edacRoot: absPath.nullable().optional(),
    rasdaemonDb: absPath.nullable().optional(),
    pollMs: z.number().int().min(1000).max(86_400_000).default(60_000),
  }).strict().optional(),
  /** Local control socket for vmanagectl (JSON lines: {"op":"status"}). */
  control: z.object({ socket: absPath }).strict().optional(),
  /** Prometheus /metrics (plain HTTP, bind to localhost or a management network). */
  metrics: z.object({ host: z.string().min(1).max(255).default('127.0.0.1'), port: z.number().int().min(0).max(65535) }).strict().optional(),
  log: z.object({ level: z.enum(['debug', 'info', 'warn', 'error']).default('info') }).strict().default({ level: 'info' }),
}).strict().refine((c) => !c.leader || c.power, { path: ['leader'], message: 'a leader needs the power section (budgets act on it)' });

export type MvmConfig = z.infer<typeof mvmConfigSchema>;
export type Endpoint = z.infer<typeof endpoint>;
export type PowerConfig = z.infer<typeof power>;
export type LeaderConfig = NonNullable<MvmConfig['leader']>;

/** The leader endpoints in order of preference. */
export function leaderEndpoints(l: LeaderConfig): Endpoint[] {
  return l.endpoints ?? (l.endpoint ? [l.endpoint] : []);
}

export function parseMvmConfig(raw: unknown, source = 'config'): MvmConfig {
  const r = mvmConfigSchema.safeParse(raw);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new VmanageError(ErrorCodes.ConfigInvalid, `${source} is invalid:\n  ${problems.join('\n  ')}`, { problems });
}

export function loadMvmConfig(path: string): MvmConfig {
  return parseMvmConfig(readConfigFile(path), path);
}
