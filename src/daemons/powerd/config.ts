// vmanage-powerd configuration (/etc/vmanage/powerd.yaml). Every problem is reported at once as
// `path: problem`; the daemon prints them and exits non-zero.
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import { SPECPOWER_TABLES } from '../../domain/power-model.js';

export const DEFAULT_CONFIG_PATH = '/etc/vmanage/powerd.yaml';

const Name = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/, 'expected a user or group name');

const SimSchema = z.object({
  /** SPECpower table of the simulated host. */
  model: z.enum(Object.keys(SPECPOWER_TABLES) as [keyof typeof SPECPOWER_TABLES]).default('hp-proliant-ml110-g5'),
  /** Constant utilisation of the simulated host, 0..1. */
  utilisation: z.number().min(0).max(1).default(0.5),
  cpus: z.number().int().min(1).max(4096).default(2),
  minKHz: z.number().int().positive().default(1_000_000),
  maxKHz: z.number().int().positive().default(2_660_000),
}).strict().refine((s) => s.minKHz <= s.maxKHz, { message: 'minKHz must not exceed maxKHz', path: ['minKHz'] });

/** A BMC power-limit actuator (the BMC engineer's adapters), plugged in by kind. */
const PowerLimitPluginSchema = z.object({
  kind: z.enum(['dcmi', 'redfish']),
  /** Passed to the adapter's constructor as is; the adapter validates it. */
  options: z.record(z.string(), z.unknown()).default({}),
}).strict();

export const PowerdConfigSchema = z.object({
  /** Which bus to own the name on: "system" in production (honours DBUS_SYSTEM_BUS_ADDRESS). */
  bus: z.enum(['system', 'session']).default('system'),
  /** sysfs root: "/" on a host, a fake tree in tests. */
  sysfsRoot: z.string().startsWith('/', 'expected an absolute path').default('/'),
  /** sysfs: cpufreq + RAPL of this host; sim: a simulated host (demo). */
  backend: z.enum(['sysfs', 'sim']).default('sysfs'),
  /** Callers allowed to change caps: by uid, or by membership of a group (name or gid). */
  allow: z.object({
    uids: z.array(z.number().int().nonnegative()).default([0]),
    groups: z.array(z.union([Name, z.number().int().nonnegative()])).default(['vmanage']),
  }).strict().prefault({}),
  frequency: z.object({ enabled: z.boolean().default(true) }).strict().prefault({}),
  rapl: z.object({
    enabled: z.boolean().default(true),
    /** Lowest RAPL limit accepted per package, watts. */
    minWattsPerPackage: z.number().positive().default(10),
    /** Gap between two energy samples when no recent one exists, ms. */
    sampleMs: z.number().int().min(1).max(10_000).default(100),
  }).strict().prefault({}),
  sim: SimSchema.prefault({}),
  powerLimits: z.array(PowerLimitPluginSchema).max(8).default([]),
  /** How often readings are refreshed for the properties (PropertiesChanged), ms; 0 = only on request. */
  readingIntervalMs: z.number().int().min(0).default(5000),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
}).strict();

export type PowerdConfig = z.infer<typeof PowerdConfigSchema>;

function configError(source: string, problems: string[]): VmanageError {
  return new VmanageError(ErrorCodes.ConfigInvalid, `${source}: invalid configuration\n${problems.join('\n')}`, { source, problems });
}

/** Parses YAML text; throws CONFIG_INVALID listing every `path: problem`. */
export function parseConfig(text: string, source = 'config'): PowerdConfig {
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) {
    throw configError(source, doc.errors.map((e) => `${e.linePos?.[0] ? `line ${e.linePos[0].line}` : '(yaml)'}: ${e.message.split('\n')[0]}`));
  }
  let raw: unknown;
  try {
    raw = doc.toJS() ?? {};
  } catch (err) {
    throw configError(source, [`(yaml): ${(err as Error).message.split('\n')[0]}`]); // e.g. an alias to no anchor
  }
  const result = PowerdConfigSchema.safeParse(raw);
  if (!result.success) {
    throw configError(source, result.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`));
  }
  return result.data;
}

/** Reads the config file; a missing default file means all defaults, a missing named file is an error. */
export async function loadConfig(path: string | undefined): Promise<PowerdConfig> {
  const file = path ?? DEFAULT_CONFIG_PATH;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (path === undefined && (err as NodeJS.ErrnoException).code === 'ENOENT') return parseConfig('{}', file);
    throw configError(file, [`(file): cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  return parseConfig(text, file);
}
