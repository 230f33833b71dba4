// The Cluster Leader's configuration (/etc/vmanage/leader.yaml; YAML, so JSON works too), validated
// at startup: every problem is reported as `path: what is wrong`, all at once, and the daemon exits
// non-zero. Sections: where hosts connect (listen), the SQLite store, etcd (HA, optional), the
// HTTP API, the cluster budget, periods, failure detection, policy parameter overrides (checked
// with each policy bundle's own schema), per-host settings (BMC for power-on), dry run, logging.
// Units: W, ms.
import { readConfigFile } from '../../adapters/config-file.js';
import { z } from 'zod';
import { BmcConfigSchema } from '../../adapters/power/ipmi-bmc.js';
import type { TrustLevel } from '../../domain/cluster.js';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import { budgetPolicy, migrationPolicy, placementPolicy } from '../../domain/leader/index.js';
import type { BudgetSplitParams } from '../../domain/leader/budget-split.js';
import type { MigrationParams } from '../../domain/leader/migration.js';
import type { PlacementParams } from '../../domain/leader/placement.js';

const absPath = z.string().regex(/^\//, 'an absolute path').max(4096);
const port = z.number().int().min(0).max(65535);
const ms = (min: number, def: number): z.ZodDefault<z.ZodNumber> => z.number().int().min(min).max(86_400_000).default(def);
const tlsFiles = z.object({ ca: absPath, cert: absPath, key: absPath }).strict();

/** Where host daemons connect: a unix socket (tests, one machine) or TCP + mutual TLS. */
const listen = z.union([
  z.object({ unix: absPath }).strict(),
  z.object({ tls: z.object({ host: z.string().min(1).max(255).default('0.0.0.0'), port }).extend(tlsFiles.shape).strict() }).strict(),
]);

/** Read by etcd-term.ts (leader election) and the data-centre budget store; carried as is here. */
const etcd = z.object({
  endpoints: z.array(z.string().min(1).max(1024)).min(1).max(32),
  /** Cluster name: the election and budget keys live under it. */
  name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, '1-64 characters of A-Z a-z 0-9 . _ -'),
  /** Lease TTL, s: a dead leader's term ends after it (4: failover within 5 s of a kill -9). */
  ttlSeconds: z.number().int().min(1).max(600).default(4),
  tls: tlsFiles.optional(),
}).strict();

const policies = z.object({
  placement: z.record(z.string(), z.unknown()).optional(),
  budget: z.record(z.string(), z.unknown()).optional(),
  migration: z.record(z.string(), z.unknown()).optional(),
}).strict().default({});

const hostSettings = z.object({
  /** The host's BMC: power-on after consolidation goes through its chassis control (IPMI). */
  bmc: BmcConfigSchema.optional(),
  /** Caps the trust level the host may claim (a host never gets more than this). */
  maxTrust: z.enum(['untrusted', 'standard', 'trusted', 'attested']).optional(),
}).strict();

const rawSchema = z.object({
  /** This leader's name (in logs, status, a standby's "leader is X"). */
  id: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, '1-128 characters of A-Z a-z 0-9 . _ : -'),
  listen,
  store: z.object({ path: z.union([absPath, z.literal(':memory:')]) }).strict(),
  etcd: etcd.optional(),
  http: z.object({
    host: z.string().min(1).max(255).default('127.0.0.1'),
    port: port.default(8470),
    tls: z.object({ cert: absPath, key: absPath, ca: absPath.optional() }).strict().optional(),
    /** Names browsers and clients may reach the API and dashboard by (Host header, against DNS
     *  rebinding) besides localhost and `host`; with tls, absent means no check. */
    allowedHosts: z.array(z.string().min(1).max(255)).max(256).optional(),
  }).strict().default({ host: '127.0.0.1', port: 8470 }),
  /** POST /api/join on the HTTP API: hosts trade a one-time token for a certificate signed by the
   *  CA in caDir (docs/certificates.md). Absent: no join endpoint. */
  join: z.object({
    caDir: absPath,
    /** Names no host may join as: every leader's (and standby's) certificate name. This leader's
     *  own id is always reserved; list the other leaders here. */
    reservedNames: z.array(z.string().min(1).max(64)).max(1000).optional(),
  }).strict().optional(),
  /** Several clusters under one data-centre budget (needs etcd): every leader publishes its
   *  cluster's floor, cap and demand and takes its share of `budgetWatts` with the same split
   *  (dc.ts); the share replaces cluster.budgetWatts while this leader leads. */
  datacenter: z.object({
    name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, '1-64 characters of A-Z a-z 0-9 . _ -'),
    budgetWatts: z.number().positive().max(1e12),
    /** How often the share is recomputed, ms. */
    periodMs: ms(100, 10_000),
    /** The published entry's lease, s: a cluster whose leader is gone drops out after it. */
    ttlSeconds: z.number().int().min(1).max(600).default(15),
  }).strict().optional(),
  cluster: z.object({
    budgetWatts: z.number().positive().max(1e9),
    /** A host's demand moving by more than this since the last split re-splits at once, W. */
    shiftWatts: z.number().min(0).max(1e6).default(20),
  }).strict(),
  periods: z.object({
    /** Liveness check and the power event, ms. */
    tickMs: ms(10, 1000),
    /** Budget split, ms. */
    splitMs: ms(10, 5000),
    /** Migration-planning audit (and consolidation), ms. */
    auditMs: ms(10, 30_000),
  }).strict().default({ tickMs: 1000, splitMs: 5000, auditMs: 30_000 }),
  failure: z.object({
    /** A host with no host.update for this long is `lost`, ms. */
    hostTimeoutMs: ms(10, 15_000),
    /** A running migration with no host.migration-status for this long is failed, ms. */
    migrationTimeoutMs: ms(10, 120_000),
    /** A command the host does not answer within this long failed, ms. */
    commandTimeoutMs: ms(10, 10_000),
    /** A VM creation the host did not answer (outcome unknown) that no host lists within this
     *  long after the decision is lost, ms (more than commandTimeoutMs). */
    creationLostMs: ms(10, 600_000),
  }).strict()
    .refine((f) => f.creationLostMs > f.commandTimeoutMs, { path: ['creationLostMs'], message: 'must be more than failure.commandTimeoutMs (the wait for the host\'s answer)' })
    .default({ hostTimeoutMs: 15_000, migrationTimeoutMs: 120_000, commandTimeoutMs: 10_000, creationLostMs: 600_000 }),
  /** Parameter overrides per policy bundle, merged over its defaults (docs/leader-policies.md). */
  policies,
  /** Per-host settings, by host id. */
  hosts: z.record(z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/), hostSettings).default({}),
  /** Decide and journal (outcome dry-run), but send nothing to the hosts. */
  dryRun: z.boolean().default(false),
  log: z.object({ level: z.enum(['debug', 'info', 'warn', 'error']).default('info') }).strict().default({ level: 'info' }),
}).strict().refine((c) => !c.datacenter || c.etcd, { path: ['datacenter'], message: 'a data-centre budget needs the etcd section (leaders coordinate through it)' });

export type RawLeaderConfig = z.infer<typeof rawSchema>;

export interface LeaderPolicyParams {
  readonly placement: PlacementParams;
  readonly budget: BudgetSplitParams;
  readonly migration: MigrationParams;
}

export type LeaderConfig = Omit<RawLeaderConfig, 'policies'> & { readonly params: LeaderPolicyParams };
export type HostSettings = z.infer<typeof hostSettings>;
export type { TrustLevel };

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Override merged over base: objects key by key, anything else replaced. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

function issuesOf(prefix: string, error: z.ZodError): string[] {
  return error.issues.map((i) => `${[prefix, ...i.path.map(String)].filter(Boolean).join('.') || '(root)'}: ${i.message}`);
}

function bundleParams<P>(name: string, bundle: { schema: z.ZodType<P>; defaults: P }, over: Record<string, unknown> | undefined, problems: string[]): P {
  const r = bundle.schema.safeParse(deepMerge(bundle.defaults, over ?? {}));
  if (r.success) return r.data;
  problems.push(...issuesOf(`policies.${name}`, r.error));
  return bundle.defaults;
}

export function parseLeaderConfig(raw: unknown, source = 'config'): LeaderConfig {
  const r = rawSchema.safeParse(raw);
  if (!r.success) {
    const problems = issuesOf('', r.error);
    throw new VmanageError(ErrorCodes.ConfigInvalid, `${source} is invalid:\n  ${problems.join('\n  ')}`, { problems });
  }
  const problems: string[] = [];
  const { policies: over, ...rest } = r.data;
  const params: LeaderPolicyParams = {
    placement: bundleParams('placement', placementPolicy, over.placement, problems),
    budget: bundleParams('budget', budgetPolicy, over.budget, problems),
    migration: bundleParams('migration', migrationPolicy, over.migration, problems),
  };
  if (problems.length > 0) throw new VmanageError(ErrorCodes.ConfigInvalid, `${source} is invalid:\n  ${problems.join('\n  ')}`, { problems });
  return { ...rest, params };
}

export function loadLeaderConfig(path: string): LeaderConfig {
  return parseLeaderConfig(readConfigFile(path), path);
}
