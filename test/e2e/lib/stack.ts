// The host side of the VM end-to-end tests: per libvirt host, a private system bus with
// libvirt-dbus serving that host's libvirtd (run inside its namespaces), and a vmanage host
// daemon (src/daemons/mvm, a real child process) wired to it, with the hook and session-handover
// sockets. The daemon's JSON log lines are parsed so tests can assert on what it saw.
import { execFile } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { startPrivateBus } from '../../support/dbus.js';
import { startTwoHosts, type LibvirtHost } from '../../support/libvirtd.js';
import { startProcess, tempDir, waitFor, type Started, type Teardown } from '../../support/proc.js';

const run = promisify(execFile);
const root = new URL('../../..', import.meta.url).pathname;

export interface LogLine { readonly time: number; readonly event?: string; readonly vm?: string; readonly [k: string]: unknown }

export interface HostStack {
  readonly host: LibvirtHost;
  readonly busAddress: string;
  readonly hookSocket: string;
  readonly handoverSocket: string;
  /** The current host daemon process. */
  mvm(): Started;
  /** Parsed JSON log lines of the host daemon so far (every run of it, in order). */
  lines(): LogLine[];
  /** Stops the host daemon (SIGTERM: it saves its guest sessions) and starts it again. */
  restartMvm(): Promise<void>;
}

/** Collects a process's JSON log lines as they come (startProcess keeps only the tail); with
 *  VMANAGE_E2E_LOG_DIR set, every line is also appended to DIR/mvm-HOST.log (for post-mortems). */
function collectLines(p: Started, into: LogLine[], host: string): void {
  let buf = '';
  const dir = process.env.VMANAGE_E2E_LOG_DIR;
  p.child.stdout?.on('data', (d: Buffer) => {
    if (dir) appendFileSync(join(dir, `mvm-${host}.log`), d);
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!l.startsWith('{') || into.length > 200_000) continue;
      try {
        into.push(JSON.parse(l) as LogLine);
      } catch {
        /* not a log line */
      }
    }
  });
}

/** Bundles the hook program (the hooks engineer's src/daemons/hook/main.ts) for libvirtd to run. */
async function hookBundle(dir: string): Promise<string> {
  const out = join(dir, 'vmanage-hook.mjs');
  await build({ entryPoints: [join(root, 'src/daemons/hook/main.ts')], outfile: out, bundle: true, platform: 'node', format: 'esm', target: 'node20', logLevel: 'warning' });
  return out;
}

/**
 * libvirtd runs hooks with a clean environment: this wrapper carries the settings to the real
 * hook (hooks/qemu.d/vmanage): this host's daemon socket, and the channel socket path a VM
 * migrating in gets on this host (both QEMUs share one filesystem here).
 */
function hookWrapper(hookJs: string, hostDir: string): string {
  const env = {
    VMANAGE_HOOK_CONF: join(hostDir, 'no-hook.conf'),
    VMANAGE_HOOK_JS: hookJs,
    VMANAGE_HOOK_SOCKET: join(hostDir, 'hook.sock'),
    VMANAGE_HOOK_MIGRATE_CHANNEL_PATH: join(hostDir, '{name}.agent.sock'),
  };
  const vars = Object.entries(env).map(([k, v]) => `${k}='${v}'`).join(' ');
  return `#!/bin/sh\nexport ${Object.keys(env).join(' ')}\n${vars} exec '${join(root, 'hooks/qemu.d/vmanage')}' "$@"\n`;
}

async function startLibvirtDbus(t: Teardown, host: LibvirtHost): Promise<string> {
  const bus = await startPrivateBus(t, 'system');
  await startProcess(t, 'nsenter', [...host.nsenterArgs(), 'libvirt-dbus', '--system'], { env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: bus.address } });
  await waitFor(`libvirt-dbus for host ${host.name}`, async () => {
    const { stdout } = await run('dbus-send', [`--bus=${bus.address}`, '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.NameHasOwner', 'string:org.libvirt']).catch(() => ({ stdout: '' }));
    return stdout.includes('boolean true');
  }, 15_000, 100);
  return bus.address;
}

async function writeMvmConfig(host: LibvirtHost, busAddress: string, peer: { name: string; socket: string }, handoverWaitMs: number, extra: Record<string, unknown>): Promise<string> {
  const cfg = {
    host: host.name,
    stateFile: join(host.dir, 'mvm-sessions.json'),
    hypervisor: { uri: 'qemu:///system', busAddress },
    hooks: { socket: join(host.dir, 'hook.sock') },
    handover: { listen: { unix: join(host.dir, 'handover.sock') }, peers: [{ name: peer.name, unix: peer.socket }], waitMs: handoverWaitMs },
    log: { level: 'info' },
    ...extra,
  };
  const file = join(host.dir, 'mvm.json');
  await writeFile(file, JSON.stringify(cfg, null, 2));
  return file;
}

async function startMvm(t: Teardown, config: string, lines: LogLine[], host: string): Promise<Started> {
  // Lines are collected from the start; readiness is the daemon's own "started" line.
  const p = await startProcess(t, process.execPath, ['--import', 'tsx', join(root, 'src/daemons/mvm/main.ts'), '-c', config], { cwd: root });
  collectLines(p, lines, host);
  await waitFor('the host daemon to start', () => {
    if (p.child.exitCode !== null) throw new Error(`vmanage-mvm exited: ${p.output().slice(-2000)}`);
    return /"event":"mvm.started"/.test(p.output());
  }, 30_000);
  return p;
}

/** Two libvirt hosts (a, b), each with libvirt-dbus and a vmanage host daemon, hooks installed. */
export interface StackOptions {
  readonly handoverWaitMs?: number;
  /** More host daemon configuration per host (e.g. power and leader sections), merged at the top level. */
  readonly mvmConfig?: (host: LibvirtHost) => Record<string, unknown>;
}

export async function startStacks(t: Teardown, opts: StackOptions = {}): Promise<{ a: HostStack; b: HostStack }> {
  const dir = await tempDir(t, 'vmanage-e2e-');
  const hookJs = await hookBundle(dir);
  const hosts = await startTwoHosts(t, { hooks: (_name, hostDir) => ({ vmanage: hookWrapper(hookJs, hostDir) }) });
  const stacks = await Promise.all([hosts.a, hosts.b].map(async (host) => ({ host, busAddress: await startLibvirtDbus(t, host) })));
  const [sa, sb] = stacks as [{ host: LibvirtHost; busAddress: string }, { host: LibvirtHost; busAddress: string }];
  const sock = (h: LibvirtHost): string => join(h.dir, 'handover.sock');
  const waitMs = opts.handoverWaitMs ?? 30_000;
  const make = async (me: { host: LibvirtHost; busAddress: string }, peer: LibvirtHost): Promise<HostStack> => {
    const config = await writeMvmConfig(me.host, me.busAddress, { name: peer.name, socket: sock(peer) }, waitMs, opts.mvmConfig?.(me.host) ?? {});
    const lines: LogLine[] = [];
    let current = await startMvm(t, config, lines, me.host.name);
    return {
      host: me.host, busAddress: me.busAddress,
      hookSocket: join(me.host.dir, 'hook.sock'), handoverSocket: sock(me.host),
      mvm: () => current,
      lines: () => lines,
      async restartMvm() {
        await current.stop('SIGTERM');
        current = await startMvm(t, config, lines, me.host.name);
      },
    };
  };
  const [a, b] = await Promise.all([make(sa, sb.host), make(sb, sa.host)]);
  return { a, b };
}
