// Test VMs for the end-to-end tests: the guest built by scripts/build-guest.sh (direct kernel
// boot, busybox initramfs with node and vmanage-agent), defined as a TCG domain (KVM does not
// work here) with the vmanage virtio-serial channel in mode='bind' (QEMU listens on a per-host
// socket path, the host daemon connects) and the serial console written to a file.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { LibvirtHost } from './libvirtd.js';

const run = promisify(execFile);
export const AGENT_CHANNEL = 'org.vmanage.agent.0';

export interface GuestImage { readonly kernel: string; readonly initrd: string; readonly key: string; readonly cached: boolean }

/** Runs scripts/build-guest.sh (cached: ~1 s when nothing changed) and returns the artefacts. */
export async function buildGuest(): Promise<GuestImage> {
  const { stdout } = await run('bash', ['scripts/build-guest.sh'], { cwd: new URL('../..', import.meta.url).pathname, timeout: 600_000, maxBuffer: 1 << 20 });
  const line = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as GuestImage;
}

export interface VmSpec {
  readonly name: string;
  readonly uuid: string;
  readonly memoryMiB: number;
  readonly image: GuestImage;
  /** Agent configuration passed on the kernel command line (replaces the built-in one). */
  readonly agentConfig?: Record<string, unknown>;
}

/** Host-side paths of a VM on a given host (each host gets its own: QEMUs share the filesystem). */
export function vmPaths(host: LibvirtHost, spec: Pick<VmSpec, 'name'>): { channel: string; console: string } {
  return { channel: join(host.dir, `${spec.name}.agent.sock`), console: join(host.dir, `${spec.name}.console.log`) };
}

export function domainXml(spec: VmSpec, paths: { channel: string; console: string }): string {
  const agent = spec.agentConfig ? ` vmanage.agent=${Buffer.from(JSON.stringify(spec.agentConfig)).toString('base64')}` : '';
  return `<domain type='qemu'>
  <name>${spec.name}</name>
  <uuid>${spec.uuid}</uuid>
  <memory unit='MiB'>${spec.memoryMiB}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${spec.image.kernel}</kernel>
    <initrd>${spec.image.initrd}</initrd>
    <cmdline>console=ttyS0 panic=-1 quiet${agent}</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <serial type='file'><source path='${paths.console}'/><target port='0'/></serial>
    <channel type='unix'>
      <source mode='bind' path='${paths.channel}'/>
      <target type='virtio' name='${AGENT_CHANNEL}'/>
    </channel>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

export interface TestVm {
  readonly spec: VmSpec;
  /** Where the VM's channel socket is on each host. */
  paths(host: LibvirtHost): { channel: string; console: string };
  start(host: LibvirtHost): Promise<void>;
  destroy(host: LibvirtHost): Promise<void>;
  /** Live-migrates from one host to the other (peer-to-peer), renaming the host-side paths. */
  migrate(from: LibvirtHost, to: LibvirtHost): Promise<void>;
}

export function newVmSpec(image: GuestImage, agentConfig?: Record<string, unknown>, memoryMiB = 384): VmSpec {
  const uuid = randomUUID();
  return { name: `vmanage-e2e-${uuid.slice(0, 8)}`, uuid, memoryMiB, image, agentConfig };
}

export function testVm(spec: VmSpec): TestVm {
  const paths = (h: LibvirtHost): { channel: string; console: string } => vmPaths(h, spec);
  return {
    spec,
    paths,
    async start(host) {
      const file = join(host.dir, `${spec.name}.xml`);
      await writeFile(file, domainXml(spec, paths(host)));
      await host.virsh('define', file);
      await host.virsh('start', spec.name);
    },
    async destroy(host) {
      await host.virsh('destroy', spec.name).catch(() => undefined);
      await host.virsh('undefine', spec.name).catch(() => undefined);
    },
    async migrate(from, to) {
      const destXml = join(from.dir, `${spec.name}.to-${to.name}.xml`);
      let xml = await from.virsh('dumpxml', '--migratable', spec.name);
      const src = paths(from);
      const dst = paths(to);
      xml = xml.split(src.channel).join(dst.channel).split(src.console).join(dst.console);
      await writeFile(destXml, xml);
      await from.virsh('migrate', '--live', '--p2p', '--undefinesource', '--persistent', '--xml', destXml, spec.name, to.p2pUri, `tcp://${to.address}`);
    },
  };
}
