// Command line and configuration loading of vmanage-agent (kept apart from main.ts so that
// tests can import it without starting the agent).
import { readFileSync } from 'node:fs';
import { AGENT_VERSION } from './agent.js';
import { ConfigError, defaults, parseConfig, type AgentConfig } from './config.js';
import type { Level } from './log.js';

export { AGENT_VERSION };

export const HELP = `Usage: vmanage-agent [options]

Reports the application's SLA state and heartbeats to the host's vmanage daemon over an
M-channel (virtio-serial on KVM, xenstore on Xen).

Options:
  --config PATH       JSON configuration (default: /etc/vmanage/agent.json if it exists)
  --device PATH       virtio-serial port (default: ${defaults.device})
  --xenstore          use the xenstore transport (Xen guests)
  --log-level LEVEL   debug | info | warn | error (default: info)
  --check-config      validate the configuration, print it and exit
  --version           print the version and exit
  -h, --help          print this help and exit
`;

export interface Args { config?: string; device?: string; xenstore: boolean; logLevel: Level; check: boolean }

export function parseArgs(argv: readonly string[]): Args | 'help' | 'version' {
  const a: Args = { xenstore: false, logLevel: 'info', check: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new ConfigError([`${k}: expected a value`]);
      return v;
    };
    if (k === '-h' || k === '--help') return 'help';
    else if (k === '--version') return 'version';
    else if (k === '--config') a.config = val();
    else if (k === '--device') a.device = val();
    else if (k === '--xenstore') a.xenstore = true;
    else if (k === '--check-config') a.check = true;
    else if (k === '--log-level') {
      const v = val();
      if (!['debug', 'info', 'warn', 'error'].includes(v)) throw new ConfigError([`--log-level: expected debug, info, warn or error, got ${JSON.stringify(v)}`]);
      a.logLevel = v as Level;
    } else throw new ConfigError([`${k}: unknown option (see --help)`]);
  }
  return a;
}

export function loadConfig(a: Args): AgentConfig {
  const path = a.config ?? '/etc/vmanage/agent.json';
  let raw: unknown = {};
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    if (!(missing && a.config === undefined)) throw new ConfigError([`${path}: ${missing ? 'no such file' : (err as Error).message}`]);
  }
  const cfg = parseConfig(raw);
  return { ...cfg, ...(a.device ? { device: a.device } : {}), ...(a.xenstore ? { transport: 'xenstore' as const } : {}) };
}

