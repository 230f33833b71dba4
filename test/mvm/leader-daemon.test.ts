// vmanage-mvm (a real child process) with a leader played by a ChannelServer in the test: the
// libvirt test driver behind libvirt-dbus, the real vmanage-powerd on a private bus, a fake
// org.freedesktop.login1 on another private system bus, and a fake /sys tree for the platform
// signals. The first leader endpoint is dead (failover). Checked: the registration's power
// table, cap, migration URI and signals; updates with VM name/vCPUs/memory and budget
// violations; migrate (the test driver cannot migrate: the end is "failed" with the code),
// migrate of an unknown VM, power-off refused while a VM runs, then carried out by logind, and
// the host operator's migration request through the control socket.
import test from 'ava';
import dbus from 'dbus-next';
import { mkdir, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { requestStatus } from '../../src/cli/vmanagectl.js';
import { disconnectBus } from '../../src/adapters/power/powerd-client-protocol.js';
import { LOGIN1_MANAGER, LOGIN1_NAME, LOGIN1_PATH } from '../../src/adapters/power/logind.js';
import type { MvmStatus } from '../../src/daemons/mvm/mvm.js';
import { SECURE_BOOT_VAR } from '../../src/daemons/mvm/platform.js';
import { Channel, ChannelServer, unixListener } from '../../src/mchannel/index.js';
import { leaderFamily, type HostRegister, type HostUpdate, type MigrationRequest, type MigrationStatus } from '../../src/protocol/leader.js';
import { createRegistry } from '../../src/protocol/registry.js';
import { startPrivateBus } from '../support/dbus.js';
import { tempDir, waitFor, type Teardown } from '../support/proc.js';
import { powerSection, startLibvirt, startMvmDaemon, startPowerd } from './support.js';

class FakeLogind extends dbus.interface.Interface {
  readonly calls: boolean[] = [];
  constructor() { super(LOGIN1_MANAGER); }
  PowerOff(interactive: boolean): void { this.calls.push(interactive); }
}
FakeLogind.configureMembers({ methods: { PowerOff: { inSignature: 'b', outSignature: '' } } });

async function startLogind(t: Teardown): Promise<{ address: string; fake: FakeLogind }> {
  const bus = await startPrivateBus(t, 'system');
  const service = dbus.sessionBus({ busAddress: bus.address });
  service.on('error', () => undefined); // writes after the bus daemon stopped, at teardown
  t.teardown(() => disconnectBus(service));
  const fake = new FakeLogind();
  service.export(LOGIN1_PATH, fake);
  await service.requestName(LOGIN1_NAME, dbus.NameFlag.DO_NOT_QUEUE);
  return { address: bus.address, fake };
}

/** One control-socket request and its one-line answer. */
function control(path: string, req: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('error', reject);
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      sock.destroy();
      resolve(JSON.parse(buf.slice(0, nl)));
    });
    sock.write(`${JSON.stringify(req)}\n`);
  });
}

async function platformTree(t: Teardown): Promise<string> {
  const root = await tempDir(t, 'vmanage-platform-');
  await mkdir(join(root, 'sys/firmware/efi/efivars'), { recursive: true });
  await writeFile(join(root, 'sys/firmware/efi/efivars', SECURE_BOOT_VAR), Buffer.from([6, 0, 0, 0, 1]));
  await mkdir(join(root, 'sys/class'), { recursive: true });
  return root;
}

test('the host daemon registers its power table and signals, reports VMs, and carries out the leader\'s commands', async (t) => {
  const [pd, lv, logind, root, dir] = await Promise.all([startPowerd(t), startLibvirt(t), startLogind(t), platformTree(t), tempDir(t)]);
  const sock = join(dir, 'leader.sock');
  const server = new ChannelServer(await unixListener(sock), { role: 'leader', validator: createRegistry(leaderFamily) });
  t.teardown(() => server.close({ endSessions: true }));
  const registers: HostRegister[] = [];
  const updates: HostUpdate[] = [];
  const statuses: MigrationStatus[] = [];
  const requests: MigrationRequest[] = [];
  let ch: Channel | undefined;
  server.events.on('channel', (c: Channel) => {
    ch = c;
    c.handle('host.register', (b) => { registers.push(b as HostRegister); return { accepted: true, token: 5 }; });
    c.handle('host.migration-request', (b) => { requests.push(b as MigrationRequest); return requests.length === 1 ? { accepted: true } : { accepted: false, reason: 'cooldown' }; });
    void (async () => {
      for await (const m of c) {
        if (m.kind === 'host.update') updates.push(m.body as HostUpdate);
        if (m.kind === 'host.migration-status') statuses.push(m.body as MigrationStatus);
      }
    })();
  });
  const mvm = await startMvmDaemon(t, lv, {
    power: powerSection(pd.address, 1, { allowPowerOff: true }),
    leader: {
      endpoints: [{ unix: join(dir, 'standby-down.sock') }, { unix: sock }], updateMs: 200, trust: 'standard',
      migrationUri: 'qemu+tls://h1/system', capWatts: 180, platformRoot: root,
    },
  }, { DBUS_SYSTEM_BUS_ADDRESS: logind.address });
  const status = async (): Promise<MvmStatus> => await requestStatus(mvm.control) as MvmStatus;

  await waitFor('the registration', () => registers.length >= 1, 30_000);
  t.like(registers[0], { host: 'h1', trust: 'standard', capWatts: 180, migrationUri: 'qemu+tls://h1/system', signals: { secureBoot: true, tpm: false } });
  t.deepEqual(registers[0]!.powerTableWatts, [100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200]);

  const withVm = await waitFor('an update with the test driver\'s VM', () => updates.find((u) => u.vms.some((v) => v.name === 'test' && v.memoryKiB !== undefined)), 30_000);
  const vm = withVm.vms.find((v) => v.name === 'test')!;
  t.true(vm.vcpus! >= 1);
  t.true(vm.memoryKiB! > 0);
  // A budget below what the host draws even at its lowest cap: every period is a violation.
  await ch!.send('leader.budget', { token: 5, watts: 50 });
  await waitFor('budget violations counted', () => (updates.at(-1)?.budgetViolations ?? 0) >= 2, 30_000);

  // The host's operator asks the leader, through the control socket, to move the VM away.
  t.deepEqual(await control(mvm.control, { op: 'request-migration', vm: vm.uuid, reason: 'hardware check' }), { ok: true });
  t.like(requests[0], { vm: vm.uuid, shedWatts: 0, reason: 'operator on h1: hardware check' });
  t.like(await control(mvm.control, { op: 'request-migration', vm: vm.uuid }), { error: { code: 'UNAVAILABLE', message: `the leader refused to move ${vm.uuid}: cooldown` } });
  t.like(await control(mvm.control, { op: 'request-migration', vm: 'not-a-uuid' }), { error: { code: 'INVALID_INPUT' } });

  const migrate = { token: 5, op: 'migrate', vm: vm.uuid, to: 'h2', destinationUri: 'qemu+unix:///system?socket=/nonexistent', migrationId: 41 };
  t.deepEqual(await ch!.request('leader.command', migrate), { done: true });
  const end = await waitFor('the migration\'s end', () => statuses.find((s) => s.migrationId === 41 && s.state !== 'running'), 30_000);
  t.like(end, { vm: vm.uuid, to: 'h2', state: 'failed' });
  t.regex(end.error ?? '', /^[A-Z_]+: /, 'the end carries the error code');
  const unknown = await ch!.request('leader.command', { ...migrate, vm: '00000000-0000-4000-8000-000000000001', migrationId: 42 }) as { done: boolean; reason: string };
  t.false(unknown.done);
  t.regex(unknown.reason, /is not on this host/);

  const refused = await ch!.request('leader.command', { token: 5, op: 'power-off' }) as { done: boolean; reason: string };
  t.false(refused.done);
  t.regex(refused.reason, /VM\(s\) still run here: .*test/);
  t.deepEqual(logind.fake.calls, []);
  const [path] = await lv.raw.call('/org/libvirt/Test', 'org.libvirt.Connect', 'DomainLookupByUUID', 's', [vm.uuid]) as [string];
  await lv.raw.call(path, 'org.libvirt.Domain', 'Destroy', 'u', [0]);
  const running = await lv.raw.call('/org/libvirt/Test', 'org.libvirt.Connect', 'ListDomains', 'u', [1]) as [string[]];
  t.deepEqual(running[0], [], 'no VM runs on the test driver any more');
  t.deepEqual(await ch!.request('leader.command', { token: 5, op: 'power-off' }), { done: true });
  t.deepEqual(logind.fake.calls, [false], 'logind asked to power off, not interactively');
  t.like((await status()).counters, { migrations_started: 1, migrations_failed: 1, leader_commands_refused: 2 });
});
