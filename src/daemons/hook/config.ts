// Hook configuration: /etc/vmanage/hook.conf (or $VMANAGE_HOOK_CONF), "key = value" lines with
// # comments, then VMANAGE_HOOK_* environment variables on top. A bad line is reported
// ("file:line: problem") and its default kept: a config mistake must not stop VMs from starting.
// Deliberately dependency-free (no zod, no yaml): the hook runs on every VM start and must be fast.
import { readFileSync } from 'node:fs';

export interface HookConfig {
  /** Host daemon's hook socket. */
  socket: string;
  /** Bound on the hook's whole run time, ms, counted from process start. */
  timeoutMs: number;
  /** Admission control: when the daemon is unreachable, refuse `prepare` (the VM does not start). */
  refusePrepareWhenDown: boolean;
  /** Exit status when the daemon denies (libvirt aborts prepare/migrate on non-zero). */
  denyExitCode: number;
  /** Exit status for malformed arguments or domain XML. */
  malformedExitCode: number;
  /** On `migrate`, rewrite the vmanage channel's socket path with this template ({uuid}, {name}); empty = pass XML through. */
  migrateChannelPath: string;
}

export const DEFAULT_HOOK_CONFIG: Readonly<HookConfig> = {
  socket: '/run/vmanage/hook.sock',
  timeoutMs: 2_000,
  refusePrepareWhenDown: false,
  denyExitCode: 1,
  malformedExitCode: 1,
  migrateChannelPath: '',
};

export const DEFAULT_HOOK_CONF_FILE = '/etc/vmanage/hook.conf';

type Setter = (cfg: HookConfig, v: string) => string | undefined;

function int(key: 'timeoutMs' | 'denyExitCode' | 'malformedExitCode', min: number, max: number): Setter {
  return (cfg, v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) return `expected an integer in [${min}, ${max}], got ${JSON.stringify(v)}`;
    cfg[key] = n;
    return undefined;
  };
}

const setters: Readonly<Record<string, Setter>> = {
  socket: (cfg, v) => {
    if (!v.startsWith('/')) return `expected an absolute path, got ${JSON.stringify(v)}`;
    cfg.socket = v;
    return undefined;
  },
  timeout_ms: int('timeoutMs', 50, 60_000),
  deny_exit_code: int('denyExitCode', 1, 255),
  malformed_exit_code: int('malformedExitCode', 0, 255),
  refuse_prepare_when_down: (cfg, v) => {
    if (!/^(true|false|yes|no|1|0)$/.test(v)) return `expected true or false, got ${JSON.stringify(v)}`;
    cfg.refusePrepareWhenDown = /^(true|yes|1)$/.test(v);
    return undefined;
  },
  migrate_channel_path: (cfg, v) => {
    if (v !== '' && !v.startsWith('/')) return `expected an absolute path template or nothing, got ${JSON.stringify(v)}`;
    cfg.migrateChannelPath = v;
    return undefined;
  },
};

/** Loads the config; problems are returned (the caller prints them), never thrown. */
export function loadHookConfig(env: NodeJS.ProcessEnv): { config: HookConfig; problems: string[] } {
  const config: HookConfig = { ...DEFAULT_HOOK_CONFIG };
  const problems: string[] = [];
  const file = env['VMANAGE_HOOK_CONF'] ?? DEFAULT_HOOK_CONF_FILE;
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`${file}: cannot read: ${(err as Error).message}`);
  }
  text.split('\n').slice(0, 1000).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) return;
    const m = /^([a-z_]+)\s*=\s*(.*)$/.exec(line);
    const setter = m ? setters[m[1] as string] : undefined;
    if (!m || !setter) {
      problems.push(`${file}:${i + 1}: ${m ? `unknown key ${JSON.stringify(m[1])}; known: ${Object.keys(setters).join(', ')}` : 'expected "key = value"'}`);
      return;
    }
    const p = setter(config, (m[2] as string).trim());
    if (p) problems.push(`${file}:${i + 1}: ${m[1]}: ${p}`);
  });
  for (const key of Object.keys(setters)) {
    const v = env[`VMANAGE_HOOK_${key.toUpperCase()}`];
    if (v === undefined) continue;
    const p = (setters[key] as Setter)(config, v.trim());
    if (p) problems.push(`VMANAGE_HOOK_${key.toUpperCase()}: ${p}`);
  }
  return { config, problems };
}
