// libvirt-dbus on a private bus for tests. On a session-type bus it serves libvirt's in-process
// test driver at /org/libvirt/Test (test:///default: one running domain "test"), no daemon
// needed. On a system-type bus it serves qemu:///system from a running libvirtd.
// Stopped by PID at teardown; restart() replaces it (new unique name, same bus) for reconnect tests.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startPrivateBus, type PrivateBus } from './dbus.js';
import { startProcess, waitFor, type Started, type Teardown } from './proc.js';

const run = promisify(execFile);

export interface LibvirtDbus {
  readonly bus: PrivateBus;
  /** The bus address without dbus-daemon's guid, so it stays valid when the bus is restarted. */
  readonly address: string;
  readonly kind: 'session' | 'system';
  pid(): number;
  /** Stops libvirt-dbus (SIGTERM, by PID). */
  stop(): Promise<void>;
  /** Starts it again on the same bus and waits until it owns org.libvirt. */
  start(): Promise<void>;
}

export async function nameHasOwner(address: string, name = 'org.libvirt'): Promise<boolean> {
  // dbus-send ships with dbus itself (busctl needs systemd, which CI may not have).
  const { stdout } = await run('dbus-send', [`--bus=${address}`, '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.NameHasOwner', `string:${name}`]);
  return /boolean true/.test(stdout);
}

/**
 * A private bus of the given type with libvirt-dbus running on it. `prefix` runs libvirt-dbus
 * through another command, e.g. ['nsenter', ...host.nsenterArgs()] to reach a libvirtd that
 * lives in its own namespaces (nsenter execs, so the PID stays libvirt-dbus's).
 */
export async function startLibvirtDbus(t: Teardown, kind: 'session' | 'system' = 'session', bus?: PrivateBus, prefix: readonly string[] = []): Promise<LibvirtDbus> {
  const b = bus ?? await startPrivateBus(t, kind);
  const address = b.address.replace(/,guid=[0-9a-f]+/, '');
  let proc: Started | undefined;
  const env = { ...process.env, [kind === 'session' ? 'DBUS_SESSION_BUS_ADDRESS' : 'DBUS_SYSTEM_BUS_ADDRESS']: address };
  const handle: LibvirtDbus = {
    bus: b,
    address,
    kind,
    pid: () => proc?.pid ?? -1,
    stop: async () => {
      await proc?.stop();
      proc = undefined;
      await waitFor('libvirt-dbus to release org.libvirt', async () => !(await nameHasOwner(address)), 5_000);
    },
    start: async () => {
      const argv = [...prefix, 'libvirt-dbus', `--${kind}`];
      proc = await startProcess(t, argv[0] as string, argv.slice(1), { env, ready: () => nameHasOwner(address), readyTimeoutMs: 15_000 });
    },
  };
  await handle.start();
  return handle;
}
