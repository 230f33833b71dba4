// The host daemon's configuration (JSON), validated at startup: every problem is reported as
// `path: what is wrong` and the daemon exits non-zero. Minimal for now (hypervisor, guest
// channels, hooks, session handover); the broker and its policies add sections later.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
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

export const mvmConfigSchema = z.object({
  /** This host's name (peers address each other by it). */
  host: z.string().min(1).max(128),
  hypervisor: z.object({
    uri: z.string().min(1).max(1024).default('qemu:///system'),
    /** D-Bus address of the bus libvirt-dbus serves (default: the system bus). */
    busAddress: z.string().min(1).max(4096).optional(),
  }).strict(),
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
  log: z.object({ level: z.enum(['debug', 'info', 'warn', 'error']).default('info') }).strict().default({ level: 'info' }),
}).strict();

export type MvmConfig = z.infer<typeof mvmConfigSchema>;
export type Endpoint = z.infer<typeof endpoint>;

export function parseMvmConfig(raw: unknown, source = 'config'): MvmConfig {
  const r = mvmConfigSchema.safeParse(raw);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new VmanageError(ErrorCodes.ConfigInvalid, `${source} is invalid:\n  ${problems.join('\n  ')}`, { problems });
}

export function loadMvmConfig(path: string): MvmConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new VmanageError(ErrorCodes.ConfigInvalid, `${path}: ${(err as Error).message}`, { path });
  }
  return parseMvmConfig(raw, path);
}
