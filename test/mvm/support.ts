// Real peers for the host daemon's end-to-end tests: vmanage-powerd on a private system bus over
// a fake sysfs, libvirt's test driver served by libvirt-dbus on a private session bus (VMs with
// an agent channel defined through it), guests running the real agent behind a model of QEMU's
// channel socket, and vmanage-mvm itself as a child process stopped by PID.
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { requestStatus } from '../../src/cli/vmanagectl.js';
import { DbusClient } from '../../src/adapters/libvirt/dbus-client.js';
import { Agent, type AgentTimers } from '../../src/daemons/agent/agent.js';
import { parseConfig } from '../../src/daemons/agent/config.js';
import { createAgentLink } from '../../src/daemons/agent/link.js';
import { createLogger } from '../../src/daemons/agent/log.js';
import { startPrivateBus } from '../support/dbus.js';
import { intelPstatePolicies, makeFakeSysfs, type FakeSysfs } from '../support/fakesysfs.js';
import { startLibvirtDbus, type LibvirtDbus } from '../support/libvirt-dbus.js';
import { startProcess, tempDir, type Started, type Teardown } from '../support/proc.js';
import { GuestPort, QemuSocket } from '../guests/fixtures.js';

const root = new URL('../..', import.meta.url).pathname;
export const P0 = 'sys/devices/system/cpu/cpufreq/policy0';

export interface Powerd { readonly address: string; readonly fake: FakeSysfs; readonly proc: Started; capKHz(): Promise<number> }

export async function startPowerd(t: Teardown): Promise<Powerd> {
  const bus = await startPrivateBus(t, 'system');
  const fake = await makeFakeSysfs(t, { policies: intelPstatePolicies(2) });
  const dir = await tempDir(t, 'vmanage-powerd-');
  const file = join(dir, 'powerd.yaml');
  await writeFile(file, `sysfsRoot: ${fake.root}\nreadingIntervalMs: 0\nallow: { uids: [0], groups: [] }\n`);
  const proc = await startProcess(t, process.execPath, ['--import', 'tsx', join(root, 'src/daemons/powerd/main.ts'), '--config', file], {
    cwd: root, env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: bus.address }, ready: /vmanage-powerd ready/, readyTimeoutMs: 60_000,
  });
  return { address: bus.address, fake, proc, capKHz: async () => Number((await readFile(fake.path(`${P0}/scaling_max_freq`), 'utf8')).trim()) };
}

/** One powerd for a test file's serial tests (started on first use); call release() in test.after.always. */
export function sharedPowerd(): { powerd: () => Promise<Powerd>; release: () => Promise<void> } {
  const fns: (() => unknown)[] = [];
  const t: Teardown = { teardown: (fn) => { fns.push(fn); } };
  let p: Promise<Powerd> | undefined;
  return {
    powerd: () => (p ??= startPowerd(t)),
    release: async () => { for (const fn of fns.reverse()) await fn(); },
  };
}

export interface Libvirt { readonly ld: LibvirtDbus; readonly raw: DbusClient; startVm(name: string, uuid: string, channel: string): Promise<void> }

export async function startLibvirt(t: Teardown): Promise<Libvirt> {
  const ld = await startLibvirtDbus(t, 'session');
  const raw = new DbusClient({ bus: 'session', busAddress: ld.address, service: 'org.libvirt' });
  t.teardown(() => raw.close());
  return {
    ld, raw,
    async startVm(name, uuid, channel) {
      const xml = `<domain type='test'><name>${name}</name><uuid>${uuid}</uuid><memory unit='MiB'>256</memory><vcpu>2</vcpu><os><type>hvm</type></os><devices>` +
        `<channel type='unix'><source mode='bind' path='${channel}'/><target type='virtio' name='org.vmanage.agent.0'/></channel></devices></domain>`;
      const [path] = await raw.call('/org/libvirt/Test', 'org.libvirt.Connect', 'DomainDefineXML', 's', [xml]) as [string];
      await raw.call(path, 'org.libvirt.Domain', 'Create', 'u', [0]);
    },
  };
}

const quiet = createLogger('error');
const noTimers: AgentTimers = { every: () => ({ cancel: () => {} }), now: () => Date.now() };

export interface Guest {
  /** Sends one report: violated (measured 0 < target 10) or ok (measured 100). */
  report(violated: boolean): Promise<void>;
}

/** The real guest agent behind QEMU's channel socket (mode='bind') at `path`. */
export async function startGuest(t: Teardown, path: string): Promise<Guest> {
  const port = new GuestPort();
  const qemu = new QemuSocket(path, port);
  await qemu.listen();
  t.teardown(() => qemu.close());
  const cfg = parseConfig({ objectives: [{ name: 'n', source: 'push', op: '>=', target: 10, staleMs: 600_000 }] });
  const link = createAgentLink(cfg, quiet);
  const agent = new Agent(cfg, link, quiet, noTimers);
  link.attach({ stream: port.guest, peer: { transport: 'chardev', id: 'host' } });
  t.teardown(() => link.channel.detach());
  return {
    async report(violated) {
      agent.push.put('n', violated ? 0 : 100);
      await agent.report();
    },
  };
}

export interface MvmProcess { readonly proc: Started; readonly dir: string; readonly control: string }

/** Writes mvm.yaml (host "h1", test driver, control socket in a temp dir, `extra` merged in) and starts the daemon. */
export async function startMvmDaemon(t: Teardown, lv: Libvirt, extra: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Promise<MvmProcess> {
  const dir = await tempDir(t, 'vmanage-mvm-');
  await chmod(dir, 0o755);
  const control = join(dir, 'control.sock');
  const file = join(dir, 'mvm.yaml');
  await writeFile(file, stringify({ host: 'h1', hypervisor: { uri: 'test:///default', busAddress: lv.ld.address }, control: { socket: control }, stateFile: join(dir, 'sessions.json'), log: { level: 'info' }, ...extra }));
  const proc = await startProcess(t, process.execPath, ['--import', 'tsx', join(root, 'src/daemons/mvm/main.ts'), '-c', file], {
    cwd: root, env: { ...process.env, ...env }, ready: () => requestStatus(control, 1000).then(() => true, () => false), readyTimeoutMs: 60_000,
  });
  return { proc, dir, control };
}

/** A power section for mvm.yaml: sim sensor at utilisation u, powerd at `address`, model 100..200 W. */
export function powerSection(address: string, u: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    sensor: { kind: 'sim', utilisation: u },
    actuator: { kind: 'powerd', busAddress: address },
    model: { idleWatts: 100, peakWatts: 200 },
    budget: { watts: 400, safeWatts: 400 },
    periodMs: 200, readIntervalMs: 200,
    rails: { 'set-frequency-cap': { dwellMs: 0, maxChanges: 1000 } },
    ...over,
  };
}
