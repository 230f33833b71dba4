// The libvirt adapter across a libvirtd restart behind libvirt-dbus: a real libvirtd (own
// namespaces, test/support/libvirtd.ts) and a real libvirt-dbus on a private system bus, a tiny
// TCG VM running. libvirtd is killed by PID while the VM runs and started again in the same
// namespaces; the adapter's liveness probe reports onReconnect, the inventory reads the same,
// and lifecycle events flow again.
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LibvirtHypervisor } from '../../src/adapters/libvirt/index.js';
import { isVmanageError } from '../../src/domain/errors.js';
import type { VmEvent } from '../../src/domain/ports/hypervisor.js';
import { startLibvirtDbus } from '../support/libvirt-dbus.js';
import { startOneHost } from '../support/libvirtd.js';
import { pidAlive, startProcess, waitFor } from '../support/proc.js';

function tinyVm(name: string, uuid: string): string {
  return `<domain type='qemu'><name>${name}</name><uuid>${uuid}</uuid><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><on_poweroff>destroy</on_poweroff><devices/></domain>`;
}

test.serial('after libvirtd is killed and restarted the adapter reconnects, re-reads the same inventory and gets lifecycle events again', async (t) => {
  t.timeout(180_000);
  const host = await startOneHost(t);
  const ld = await startLibvirtDbus(t, 'system', undefined, ['nsenter', ...host.nsenterArgs()]);
  const hv = new LibvirtHypervisor({ uri: 'qemu:///system', busAddress: ld.address, callTimeoutMs: 30_000, livenessIntervalMs: 200 });
  t.teardown(() => hv.close());
  const events: VmEvent[] = [];
  hv.onEvent((e) => events.push(e));
  let reconnects = 0;
  hv.onReconnect(() => { reconnects += 1; });
  await hv.connect();

  const uuid = randomUUID();
  const name = `restart-${uuid.slice(0, 8)}`;
  const xmlPath = join(host.dir, `${name}.xml`);
  await writeFile(xmlPath, tinyVm(name, uuid));
  await host.virsh('define', xmlPath);
  await host.virsh('start', name);
  await waitFor('started event', () => events.some((e) => e.uuid === uuid && e.kind === 'started'), 30_000);
  const before = (await hv.listVms()).sort((a, b) => a.uuid.localeCompare(b.uuid));
  t.like(before.find((v) => v.uuid === uuid), { name, state: 'running' });
  t.is(reconnects, 0);

  // libvirtd dies (QEMU keeps running); while it is gone the adapter says so, typed.
  // host.nsenterArgs() names the namespaces by libvirtd's PID; libvirt-dbus (nsenter execs) lives in the same ones.
  const ns = ['-t', String(ld.pid()), '-m', '-n'];
  process.kill(host.pid, 'SIGKILL');
  await waitFor('libvirtd to exit', () => !pidAlive(host.pid) || host.process.child.exitCode !== null || host.process.child.signalCode !== null, 10_000);
  const down = await waitFor('the adapter to report libvirtd unavailable', async () => {
    const r = await hv.listVms().then(() => undefined, (e: unknown) => e);
    return r && isVmanageError(r, 'HYPERVISOR_UNAVAILABLE') ? r : undefined;
  }, 10_000, 100);
  t.regex(down.message, /.+/);
  t.is(reconnects, 0, 'no reconnect while libvirtd is down');

  // libvirtd starts again in the same namespaces (private /run, /etc/libvirt, ...) and finds the VM.
  await startProcess(t, 'nsenter', [...ns, 'libvirtd'], { ready: async () => (await host.virsh('uri').then(() => true, () => false)), readyTimeoutMs: 30_000 });
  await waitFor('onReconnect from the liveness probe', () => reconnects > 0, 15_000);
  const after = (await hv.listVms()).sort((a, b) => a.uuid.localeCompare(b.uuid));
  t.deepEqual(after, before, 'the same inventory after the restart');

  const mark = events.length;
  await host.virsh('suspend', name);
  await waitFor('suspended event after the restart', () => events.slice(mark).some((e) => e.uuid === uuid && e.kind === 'suspended'), 15_000);
  await host.virsh('resume', name);
  await waitFor('resumed event after the restart', () => events.slice(mark).some((e) => e.uuid === uuid && e.kind === 'resumed'), 15_000);
  t.like(events.slice(mark).find((e) => e.kind === 'suspended'), { uuid, name, reason: 'paused' });
  t.like(events.slice(mark).find((e) => e.kind === 'resumed'), { uuid, name, reason: 'unpaused' });
  t.is((await hv.getVm(uuid)).state, 'running');

  await host.virsh('destroy', name);
  await waitFor('stopped event', () => events.some((e) => e.uuid === uuid && e.kind === 'stopped'), 30_000);
  await host.virsh('undefine', name);
});
