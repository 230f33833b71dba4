// The libvirt adapter against the real libvirt test driver, served by a real libvirt-dbus on a
// private session bus (no libvirtd needed). The test driver starts with one running domain "test".
import test from 'ava';
import { ErrorCodes, isVmanageError, type VmanageError } from '../../src/domain/errors.js';
import type { VmEvent } from '../../src/domain/ports/hypervisor.js';
import { LibvirtHypervisor } from '../../src/adapters/libvirt/index.js';
import { DbusClient } from '../../src/adapters/libvirt/dbus-client.js';
import { startLibvirtDbus, type LibvirtDbus } from '../support/libvirt-dbus.js';
import { stopPid, waitFor } from '../support/proc.js';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';

const TEST_UUID = '6695eb01-f6a4-8304-79aa-97f2502e193f';

interface Fixture { ld: LibvirtDbus; hv: LibvirtHypervisor; raw: DbusClient }

async function fixture(t: ExecutionContext): Promise<Fixture> {
  const ld = await startLibvirtDbus(t, 'session');
  const hv = new LibvirtHypervisor({ uri: 'test:///default', busAddress: ld.address, callTimeoutMs: 5_000 });
  t.teardown(() => hv.close());
  // A second, independent client drives the test driver the way a user of virsh would.
  const raw = new DbusClient({ bus: 'session', busAddress: ld.address, service: 'org.libvirt' });
  t.teardown(() => raw.close());
  return { ld, hv, raw };
}

function domainXml(name: string, uuid: string, channelPath?: string): string {
  const channel = channelPath
    ? `<channel type='unix'><source mode='bind' path='${channelPath}'/><target type='virtio' name='org.vmanage.agent.0'/></channel>`
    : '';
  return `<domain type='test'><name>${name}</name><uuid>${uuid}</uuid><memory unit='MiB'>256</memory><vcpu>3</vcpu><os><type>hvm</type></os><devices>${channel}</devices></domain>`;
}

async function defineAndStart(raw: DbusClient, xml: string): Promise<string> {
  const [path] = await raw.call('/org/libvirt/Test', 'org.libvirt.Connect', 'DomainDefineXML', 's', [xml]) as [string];
  await raw.call(path, 'org.libvirt.Domain', 'Create', 'u', [0]);
  return path;
}

function code(err: unknown): string | undefined {
  return isVmanageError(err) ? (err as VmanageError).code : undefined;
}

test('listVms reports the running test domain with UUID, name, state, vCPUs and memory in KiB', async (t) => {
  const { hv } = await fixture(t);
  const vms = await hv.listVms();
  const vm = vms.find((v) => v.uuid === TEST_UUID);
  t.deepEqual(vm, { uuid: TEST_UUID, name: 'test', state: 'running', vcpus: 2, memoryKiB: 2_097_152, maxMemoryKiB: 8_388_608 });
});

test('getVm of a UUID libvirt does not know fails with VM_NOT_FOUND', async (t) => {
  const { hv } = await fixture(t);
  const err = await t.throwsAsync(hv.getVm('00000000-0000-0000-0000-000000000001'));
  t.is(code(err), ErrorCodes.VmNotFound);
});

test('a malformed UUID is refused with INVALID_INPUT before any call', async (t) => {
  const { hv } = await fixture(t);
  t.is(code(await t.throwsAsync(hv.getVm('../../etc'))), ErrorCodes.InvalidInput);
});

test('suspend and resume arrive as typed lifecycle events with the VM name', async (t) => {
  const { hv, raw } = await fixture(t);
  await hv.listVms(); // learns names
  const events: VmEvent[] = [];
  hv.onEvent((e) => events.push(e));
  await hv.connect();
  const path = `/org/libvirt/Test/domain/_${TEST_UUID.replaceAll('-', '_')}`;
  await raw.call(path, 'org.libvirt.Domain', 'Suspend');
  await raw.call(path, 'org.libvirt.Domain', 'Resume');
  await waitFor('two events', () => events.length >= 2, 5_000);
  t.deepEqual(events.slice(0, 2), [
    { uuid: TEST_UUID, name: 'test', kind: 'suspended', detail: 0, reason: 'paused' },
    { uuid: TEST_UUID, name: 'test', kind: 'resumed', detail: 0, reason: 'unpaused' },
  ]);
  t.is((await hv.getVm(TEST_UUID)).state, 'running');
});

test('a defined and started VM is seen as defined/added then started/booted, and a throwing listener does not stop others', async (t) => {
  const { hv, raw } = await fixture(t);
  const events: VmEvent[] = [];
  hv.onEvent(() => { throw new Error('a broken listener'); });
  hv.onEvent((e) => events.push(e));
  await hv.connect();
  const uuid = '11111111-2222-3333-4444-555555555555';
  await defineAndStart(raw, domainXml('c1', uuid));
  await waitFor('defined and started', () => events.filter((e) => e.uuid === uuid).length >= 2, 5_000);
  t.deepEqual(events.filter((e) => e.uuid === uuid).map((e) => [e.kind, e.reason]), [['defined', 'added'], ['started', 'booted']]);
  t.true(hv.counters.listenerErrors >= 2);
  const vm = await hv.getVm(uuid);
  t.like(vm, { name: 'c1', state: 'running', vcpus: 3, memoryKiB: 262_144 });
});

test('channelSocketPath reads the vmanage channel from the domain XML, and is undefined without one', async (t) => {
  const { hv, raw } = await fixture(t);
  const withCh = '21111111-2222-3333-4444-555555555555';
  await defineAndStart(raw, domainXml('with-channel', withCh, '/run/vmanage/vms/with-channel.sock'));
  t.is(await hv.channelSocketPath(withCh), '/run/vmanage/vms/with-channel.sock');
  t.is(await hv.channelSocketPath(TEST_UUID), undefined);
});

test('attachChannel keeps an existing channel and reports the test driver cannot hot-plug with UNSUPPORTED', async (t) => {
  const { hv, raw } = await fixture(t);
  const withCh = '31111111-2222-3333-4444-555555555555';
  await defineAndStart(raw, domainXml('has-one', withCh, '/run/vmanage/a.sock'));
  t.is(await hv.attachChannel(withCh, '/run/vmanage/other.sock'), '/run/vmanage/a.sock');
  t.is(code(await t.throwsAsync(hv.attachChannel(TEST_UUID, '/run/vmanage/test.sock'))), ErrorCodes.Unsupported);
});

test('stats on a driver without CPU accounting fail loudly with UNSUPPORTED instead of reporting zero', async (t) => {
  const { hv } = await fixture(t);
  t.is(code(await t.throwsAsync(hv.stats(TEST_UUID))), ErrorCodes.Unsupported);
});

test('the batch CPU read lists a running VM it knows, without a CPU time on a driver that keeps none', async (t) => {
  const { hv } = await fixture(t);
  await hv.listVms(); // the adapter learns names -> UUIDs when it reads the VMs
  const times = await hv.cpuTimes();
  t.true(times.has(TEST_UUID));
  t.is(times.get(TEST_UUID)?.cpuTimeNs, undefined);
  t.true((times.get(TEST_UUID)?.timestamp ?? 0) > 0);
});

test('scheduler: the weight scheduler takes cpuShares, refuses quota/period and out-of-range values', async (t) => {
  const { hv } = await fixture(t);
  await t.notThrowsAsync(hv.setScheduler(TEST_UUID, { cpuShares: 512 }));
  t.is(code(await t.throwsAsync(hv.setScheduler(TEST_UUID, { vcpuQuotaUs: 50_000, vcpuPeriodUs: 100_000 }))), ErrorCodes.Unsupported);
  t.is(code(await t.throwsAsync(hv.setScheduler(TEST_UUID, { cpuShares: 0 }))), ErrorCodes.InvalidInput);
  // The test driver refuses the flags libvirt-dbus adds for the read side.
  t.is(code(await t.throwsAsync(hv.getScheduler(TEST_UUID))), ErrorCodes.Unsupported);
});

test('migration the driver cannot do fails with MIGRATION_FAILED carrying libvirt\'s reason', async (t) => {
  const { hv } = await fixture(t);
  const err = await t.throwsAsync(hv.migrate(TEST_UUID, { destinationUri: 'test:///default', destinationXml: '<domain/>' })) as VmanageError;
  t.is(err.code, ErrorCodes.MigrationFailed);
  t.regex(String(err.details['libvirtMessage']), /migration is not supported/);
});

test('a migration aborted before it starts fails with MIGRATION_ABORTED and calls nothing', async (t) => {
  const { hv } = await fixture(t);
  const ac = new AbortController();
  ac.abort();
  t.is(code(await t.throwsAsync(hv.migrate(TEST_UUID, { destinationUri: 'qemu+tls://b/system', signal: ac.signal }))), ErrorCodes.MigrationAborted);
});

test('after libvirt-dbus restarts, onReconnect fires and the inventory can be re-read', async (t) => {
  const { ld, hv } = await fixture(t);
  await hv.connect();
  let reconnects = 0;
  hv.onReconnect(() => { reconnects += 1; });
  await ld.stop();
  t.is(code(await t.throwsAsync(hv.listVms())), ErrorCodes.HypervisorUnavailable);
  await ld.start();
  await waitFor('onReconnect', () => reconnects >= 1, 5_000);
  t.true((await hv.listVms()).some((v) => v.uuid === TEST_UUID));
  const events: VmEvent[] = [];
  hv.onEvent((e) => events.push(e));
  const raw = new DbusClient({ bus: 'session', busAddress: ld.address, service: 'org.libvirt' });
  t.teardown(() => raw.close());
  await raw.call(`/org/libvirt/Test/domain/_${TEST_UUID.replaceAll('-', '_')}`, 'org.libvirt.Domain', 'Suspend');
  await waitFor('an event from the new libvirt-dbus', () => events.length >= 1, 5_000);
  t.is(events[0]?.kind, 'suspended');
});

test('an unreachable bus is HYPERVISOR_UNAVAILABLE, and an unknown URI is INVALID_INPUT', async (t) => {
  const hv = new LibvirtHypervisor({ uri: 'qemu:///system', busAddress: 'unix:path=/nonexistent/bus.sock', callTimeoutMs: 1_000 });
  t.teardown(() => hv.close());
  t.is(code(await t.throwsAsync(hv.listVms())), ErrorCodes.HypervisorUnavailable);
  t.is(code(t.throws(() => new LibvirtHypervisor({ uri: 'vbox:///session' }))), ErrorCodes.InvalidInput);
});

test('after the D-Bus daemon itself restarts, the adapter reconnects, fires onReconnect and gets events again', async (t) => {
  const { ld, hv } = await fixture(t);
  await hv.connect();
  let reconnects = 0;
  hv.onReconnect(() => { reconnects += 1; });
  await ld.stop();
  await ld.bus.stop();
  // Same config, same socket path: dbus-daemon removed its socket when it exited.
  const out = execFileSync('dbus-daemon', [`--config-file=${join(ld.bus.dir, 'bus.conf')}`, '--fork', '--print-pid=1'], { encoding: 'utf8' });
  const pid = Number(out.trim());
  t.teardown(() => stopPid(pid));
  await ld.start();
  await waitFor('onReconnect after the bus came back', () => reconnects >= 1, 15_000);
  t.true((await hv.listVms()).some((v) => v.uuid === TEST_UUID));
  t.true(hv.dbusCounters.busReconnects >= 1);
  const events: VmEvent[] = [];
  hv.onEvent((e) => events.push(e));
  const raw = new DbusClient({ bus: 'session', busAddress: ld.address, service: 'org.libvirt' });
  t.teardown(() => raw.close());
  await raw.call(`/org/libvirt/Test/domain/_${TEST_UUID.replaceAll('-', '_')}`, 'org.libvirt.Domain', 'Suspend');
  await waitFor('an event on the new bus', () => events.length >= 1, 5_000);
  t.is(events[0]?.kind, 'suspended');
});

test('xen:///system talks to libvirt-dbus\'s /org/libvirt/Xen on the system bus; no Xen daemon is HYPERVISOR_UNAVAILABLE', async (t) => {
  const ld = await startLibvirtDbus(t, 'system');
  const hv = new LibvirtHypervisor({ uri: 'xen:///system', busAddress: ld.address, callTimeoutMs: 10_000 });
  t.teardown(() => hv.close());
  const err = await t.throwsAsync(hv.listVms()) as VmanageError;
  t.is(err.code, ErrorCodes.HypervisorUnavailable);
  t.like(err.details, { op: 'ListDomains', dbusError: 'org.libvirt.Error' });
  // No libvirtd here, or one without the Xen driver: either way libvirt cannot serve xen:///.
  t.regex(String(err.details['libvirtMessage']), /Failed to connect socket|no connection driver available/);
});
