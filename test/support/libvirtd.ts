// libvirtd hosts for end-to-end tests. Each host runs in its own network namespace and its own
// private mount namespace, where private copies of /etc/libvirt (own host_uuid, qemu runs as
// root, no autostarted network), /run, /var/lib/libvirt, /var/log/libvirt and /var/cache/libvirt
// are bind-mounted from the host's directory: two daemons on one machine that can live-migrate
// to each other, and that never touch the machine's own libvirt state.
// libvirtd runs in the foreground, so the spawned PID is libvirtd's; teardown destroys the QEMU
// processes it started (by the PIDs libvirt recorded), then stops libvirtd by PID.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rm, writeFile, appendFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createNetnsPair } from './netns.js';
import { pidAlive, startProcess, stopPid, tempDir, waitFor, type Started, type Teardown } from './proc.js';

const run = promisify(execFile);

export interface LibvirtHost {
  readonly name: string;
  /** Root of the host's private state: etc/, run/, lib/, log/, cache/ and free space for VMs. */
  readonly dir: string;
  /** libvirt URI from the root namespaces, e.g. qemu:///system?socket=DIR/run/libvirt/libvirt-sock */
  readonly uri: string;
  /** URI for peer-to-peer migration *to* this host (qemu+unix, reachable from the other daemon). */
  readonly p2pUri: string;
  /** The host's address on the veth link (migration data goes there). */
  readonly address: string;
  readonly netns: string;
  readonly pid: number;
  readonly process: Started;
  /** Runs virsh against this host; resolves with stdout. */
  virsh(...args: string[]): Promise<string>;
  /** Runs a command inside this host's network and mount namespaces (e.g. libvirt-dbus). */
  nsenterArgs(): string[];
  stop(): Promise<void>;
}

export interface HostOptions {
  /** Hook scripts for a host (given its name and directory), installed as
   *  etc/libvirt/hooks/qemu.d/<key> before its daemon starts (libvirtd reads hooks at start). */
  readonly hooks?: (name: string, dir: string) => Readonly<Record<string, string>>;
  /** Extra environment for libvirtd (and so for the hooks it runs). */
  readonly env?: Readonly<Record<string, string>>;
}

const CAPS_CACHE = new URL('../../.cache/libvirt/qemu-capabilities', import.meta.url).pathname;

/** Keeps this host's QEMU capabilities for the next run (first host to have them wins). */
async function saveCapabilities(dir: string): Promise<void> {
  const caps = join(dir, 'cache/qemu/capabilities');
  if (existsSync(CAPS_CACHE) || !existsSync(caps) || (await readdir(caps)).length === 0) return;
  await mkdir(join(CAPS_CACHE, '..'), { recursive: true });
  await cp(caps, CAPS_CACHE, { recursive: true });
}

const PRIVATE = [['etc', '/etc/libvirt'], ['run', '/run'], ['lib', '/var/lib/libvirt'], ['log', '/var/log/libvirt'], ['cache', '/var/cache/libvirt']] as const;

async function prepareTree(name: string, dir: string, hostUuid: string, address: string, opts: HostOptions): Promise<void> {
  for (const [sub] of PRIVATE) await mkdir(join(dir, sub), { recursive: true });
  await cp('/etc/libvirt', join(dir, 'etc'), { recursive: true });
  await rm(join(dir, 'etc/qemu/networks/autostart'), { recursive: true, force: true });
  await appendFile(join(dir, 'etc/libvirtd.conf'), `\nhost_uuid = "${hostUuid}"\nlog_outputs = "3:stderr"\n`);
  // stdio_handler=file: QEMU's stdio goes straight to a file, so no virtlogd is needed.
  // migration_host: what a destination tells the source QEMU to send the memory to when the
  // caller gives no migrate_uri (a peer-to-peer migration the leader orders), as a real host's
  // resolvable name would; both namespaces share one hostname, so the veth address it is.
  await appendFile(join(dir, 'etc/qemu.conf'), `\nuser = "root"\ngroup = "root"\nstdio_handler = "file"\nmigration_host = "${address}"\n`);
  // QEMU's capabilities cache saves libvirtd probing QEMU (~4 s) at the first VM start; it is
  // kept in .cache/ between runs (libvirtd revalidates it against the QEMU binary itself).
  if (existsSync(CAPS_CACHE)) await cp(CAPS_CACHE, join(dir, 'cache/qemu/capabilities'), { recursive: true });
  for (const [file, body] of Object.entries(opts.hooks?.(name, dir) ?? {})) {
    await mkdir(join(dir, 'etc/hooks/qemu.d'), { recursive: true });
    await writeFile(join(dir, 'etc/hooks/qemu.d', file), body, { mode: 0o755 });
  }
}

/** The PIDs of the QEMU processes this host's libvirtd started (from its run/libvirt/qemu/*.pid). */
export async function qemuPids(dir: string): Promise<number[]> {
  const qdir = join(dir, 'run/libvirt/qemu');
  const files = existsSync(qdir) ? (await readdir(qdir)).filter((f) => f.endsWith('.pid')) : [];
  const pids = await Promise.all(files.map(async (f) => Number((await readFile(join(qdir, f), 'utf8')).trim())));
  return pids.filter((p) => Number.isInteger(p) && p > 1);
}

async function startHost(t: Teardown, name: string, netns: string, address: string, opts: HostOptions): Promise<LibvirtHost> {
  const dir = await tempDir(t, `vmanage-libvirt-${name}-`);
  await prepareTree(name, dir, randomUUID(), address, opts);
  const mounts = PRIVATE.map(([sub, target]) => `mount --bind '${join(dir, sub)}' '${target}'`).join(' && ');
  const proc = await startProcess(undefined, 'nsenter', [`--net=/run/netns/${netns}`, 'unshare', '-m', '--propagation', 'private', 'sh', '-c', `${mounts} && exec libvirtd`], {
    env: { ...process.env, ...opts.env },
  });
  const sock = join(dir, 'run/libvirt/libvirt-sock');
  const uri = `qemu:///system?socket=${sock}`;
  const virsh = async (...args: string[]): Promise<string> => (await run('virsh', ['-q', '-c', uri, ...args], { timeout: 60_000 })).stdout;
  const stop = async (): Promise<void> => {
    for (const pid of await qemuPids(dir)) if (pidAlive(pid)) await stopPid(pid, 2000);
    await stopPid(proc.pid, 5000);
    await saveCapabilities(dir).catch(() => undefined);
  };
  t.teardown(stop);
  await waitFor(`libvirtd ${name} to answer (output: ${proc.output().slice(-500)})`, async () => {
    if (proc.child.exitCode !== null) throw new Error(`libvirtd ${name} exited: ${proc.output().slice(-2000)}`);
    return existsSync(sock) && (await virsh('uri').then(() => true, () => false));
  }, 30_000, 100);
  return {
    name, dir, uri, address, netns, pid: proc.pid, process: proc, virsh, stop,
    p2pUri: `qemu+unix:///system?socket=${sock}`,
    nsenterArgs: () => ['-t', String(proc.pid), '-m', '-n'],
  };
}

export interface TwoHosts { readonly a: LibvirtHost; readonly b: LibvirtHost }

/** Starts host A and host B (each in its own network + mount namespace, joined by a veth pair). */
export async function startTwoHosts(t: Teardown, opts: HostOptions = {}): Promise<TwoHosts> {
  const pair = createNetnsPair(t);
  const [a, b] = await Promise.all([
    startHost(t, 'a', pair.a.name, pair.a.address, opts),
    startHost(t, 'b', pair.b.name, pair.b.address, opts),
  ]);
  return { a, b };
}

/** One libvirtd host (in its own namespaces) for tests that need no migration. */
export async function startOneHost(t: Teardown, opts: HostOptions = {}): Promise<LibvirtHost> {
  const pair = createNetnsPair(t);
  return await startHost(t, 'a', pair.a.name, pair.a.address, opts);
}
