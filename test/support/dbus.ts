// A private dbus-daemon for tests: a session-type bus (for libvirt-dbus --session and its test
// driver) or a system-type bus with an allow-all policy (for powerd and libvirt-dbus --system).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stopPid, tempDir, type Teardown } from './proc.js';
import { execFileSync } from 'node:child_process';

export interface PrivateBus {
  /** The bus address, e.g. unix:path=/tmp/.../bus.sock */
  readonly address: string;
  readonly pid: number;
  readonly dir: string;
  stop(): Promise<void>;
}

export async function startPrivateBus(t: Teardown | undefined, type: 'session' | 'system' = 'session', extraPolicy = ''): Promise<PrivateBus> {
  const dir = await tempDir(t, 'vmanage-dbus-');
  const sock = join(dir, 'bus.sock');
  const conf = join(dir, 'bus.conf');
  await writeFile(conf, `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>${type}</type>
  <listen>unix:path=${sock}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow receive_sender="*"/>
  </policy>
  ${extraPolicy}
</busconfig>
`);
  const out = execFileSync('dbus-daemon', [`--config-file=${conf}`, '--fork', '--print-address=1', '--print-pid=1'], { encoding: 'utf8' });
  const [addressLine, pidLine] = out.trim().split('\n');
  const pid = Number(pidLine);
  if (!addressLine || !Number.isInteger(pid)) throw new Error(`dbus-daemon printed no address/pid: ${out}`);
  // --fork returns after the daemon listens, so the socket exists now.
  const bus: PrivateBus = { address: addressLine, pid, dir, stop: () => stopPid(pid) };
  t?.teardown(() => bus.stop());
  return bus;
}
