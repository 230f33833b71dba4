// The libvirt adapter against a real libvirtd (qemu:///system, in its own namespaces, see
// test/support/libvirtd.ts) through a real libvirt-dbus on a private system bus, with a tiny TCG
// VM that has no kernel or disk (SeaBIOS finds nothing to boot and idles: enough for lifecycle,
// stats, scheduler and device hot-plug). Migration on real daemons: test/e2e/migration.test.ts.
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LibvirtHypervisor } from '../../src/adapters/libvirt/index.js';
import { ErrorCodes } from '../../src/domain/errors.js';
import type { VmEvent } from '../../src/domain/ports/hypervisor.js';
import { startLibvirtDbus } from '../support/libvirt-dbus.js';
import { startOneHost } from '../support/libvirtd.js';
import { waitFor } from '../support/proc.js';

function tinyVm(name: string, uuid: string): string {
  return `<domain type='qemu'><name>${name}</name><uuid>${uuid}</uuid><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><on_poweroff>destroy</on_poweroff>
<devices><controller type='virtio-serial' index='0'/></devices></domain>`;
}

test.serial('on real libvirtd: define/start events, inventory, CPU stats, scheduler, channel hot-plug, destroy', async (t) => {
  t.timeout(180_000);
  const host = await startOneHost(t);
  const ld = await startLibvirtDbus(t, 'system', undefined, ['nsenter', ...host.nsenterArgs()]);
  const hv = new LibvirtHypervisor({ uri: 'qemu:///system', busAddress: ld.address, callTimeoutMs: 30_000 });
  t.teardown(() => hv.close());
  const events: VmEvent[] = [];
  hv.onEvent((e) => events.push(e));
  await hv.connect();

  const uuid = randomUUID();
  const name = `tiny-${uuid.slice(0, 8)}`;
  const xmlPath = join(host.dir, `${name}.xml`);
  await writeFile(xmlPath, tinyVm(name, uuid));
  await host.virsh('define', xmlPath);
  await host.virsh('start', name);
  t.teardown(() => host.virsh('destroy', name).catch(() => ''));
  await waitFor('defined and started events', () => events.some((e) => e.uuid === uuid && e.kind === 'started'), 30_000);
  // QEMU starts paused: libvirt also reports resumed/unpaused between defined and started.
  const seen = events.filter((e) => e.uuid === uuid).map((e) => `${e.kind}/${e.reason}`);
  t.true(seen.indexOf('defined/added') === 0 && seen.includes('started/booted'), seen.join(', '));

  const vm = (await hv.listVms()).find((v) => v.uuid === uuid);
  t.like(vm, { name, state: 'running', vcpus: 1, maxMemoryKiB: 65_536 });

  const s1 = await hv.stats(uuid);
  t.true(s1.cpuTimeNs > 0, `cpu time ${s1.cpuTimeNs} ns`);
  await waitFor('CPU time to grow', async () => (await hv.stats(uuid)).cpuTimeNs > s1.cpuTimeNs, 10_000, 100);
  // The batch read (one GetAllDomainStats for every running VM) sees the same CPU time.
  const before = (await hv.stats(uuid)).cpuTimeNs;
  const batch = (await hv.cpuTimes()).get(uuid);
  const after = (await hv.stats(uuid)).cpuTimeNs;
  t.true(batch?.cpuTimeNs !== undefined && batch.cpuTimeNs >= before && batch.cpuTimeNs <= after, `batch ${batch?.cpuTimeNs} ns, per VM ${before}..${after} ns`);

  // Real cgroup-backed scheduler parameters (the posix scheduler): read, set, read back.
  t.like(await hv.getScheduler(uuid), { cpuShares: 1024, vcpuPeriodUs: 100_000 });
  await hv.setScheduler(uuid, { cpuShares: 512, vcpuPeriodUs: 50_000, vcpuQuotaUs: 25_000 });
  t.deepEqual(await hv.getScheduler(uuid), { cpuShares: 512, vcpuPeriodUs: 50_000, vcpuQuotaUs: 25_000 });

  t.is(await hv.channelSocketPath(uuid), undefined);
  const sock = join(host.dir, `${name}.agent.sock`);
  t.is(await hv.attachChannel(uuid, sock), sock);
  t.is(await hv.channelSocketPath(uuid), sock);
  t.true(existsSync(sock), 'QEMU listens on the hot-attached channel socket');

  await host.virsh('destroy', name);
  await waitFor('stopped event', () => events.some((e) => e.uuid === uuid && e.kind === 'stopped'), 30_000);
  t.like(events.find((e) => e.uuid === uuid && e.kind === 'stopped'), { reason: 'destroyed', name });
  t.is((await hv.getVm(uuid)).state, 'shutoff');
  await host.virsh('undefine', name);
  t.is((await hv.getVm(uuid).catch((e: unknown) => e) as { code?: string }).code, ErrorCodes.VmNotFound);
});
