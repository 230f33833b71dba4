// migrate() on two real libvirtd hosts (own network and mount namespaces, test/support/libvirtd.ts)
// with the test guest (scripts/build-guest.sh, cached): its initramfs fills guest memory with
// non-zero pages, so a migration capped at 1 MiB/s runs long enough to be aborted mid-way.
// Checked: progress from GetJobStats, AbortJob -> MIGRATION_ABORTED with the VM still running on
// the source, then a full peer-to-peer live migration with the source's stopped/migrated event.
import test from 'ava';
import { LibvirtHypervisor } from '../../src/adapters/libvirt/index.js';
import { ErrorCodes, type VmanageError } from '../../src/domain/errors.js';
import type { MigrationProgress, VmEvent } from '../../src/domain/ports/hypervisor.js';
import { startLibvirtDbus } from '../support/libvirt-dbus.js';
import { startTwoHosts } from '../support/libvirtd.js';
import { waitFor } from '../support/proc.js';
import { buildGuest, newVmSpec, testVm } from '../support/vm.js';

test.serial('migrate reports progress, aborts with MIGRATION_ABORTED leaving the VM on the source, then moves it live', async (t) => {
  t.timeout(300_000); // a guest rebuild (the agent changed) plus two daemons on a loaded machine
  const image = await buildGuest();
  const { a, b } = await startTwoHosts(t);
  const ld = await startLibvirtDbus(t, 'system', undefined, ['nsenter', ...a.nsenterArgs()]);
  const hv = new LibvirtHypervisor({ uri: 'qemu:///system', busAddress: ld.address });
  t.teardown(() => hv.close());
  const events: VmEvent[] = [];
  hv.onEvent((e) => events.push(e));
  await hv.connect();

  const vm = testVm(newVmSpec(image, undefined, 256));
  t.teardown(async () => { await vm.destroy(a); await vm.destroy(b); });
  await vm.start(a);
  const uuid = vm.spec.uuid;
  // Two seconds of guest CPU: the kernel has unpacked the initramfs (tens of MiB of non-zero pages).
  await waitFor('the guest to boot a while', async () => (await hv.stats(uuid)).cpuTimeNs > 2e9, 60_000, 200);

  let xml = await a.virsh('dumpxml', '--migratable', vm.spec.name);
  for (const k of ['channel', 'console'] as const) xml = xml.split(vm.paths(a)[k]).join(vm.paths(b)[k]);
  const base = { destinationUri: b.p2pUri, migrateUri: `tcp://${b.address}`, destinationXml: xml, persistDest: true, undefineSource: true, progressIntervalMs: 100 };

  const ac = new AbortController();
  const slow: MigrationProgress[] = [];
  const err = await t.throwsAsync(hv.migrate(uuid, {
    ...base, bandwidthMiBps: 1, signal: ac.signal,
    onProgress: (p) => { slow.push(p); if ((p.dataProcessedBytes ?? 0) > 0) ac.abort(); },
  })) as VmanageError;
  t.is(err.code, ErrorCodes.MigrationAborted, err.message);
  t.true(slow.some((p) => (p.dataProcessedBytes ?? 0) > 0 && (p.dataTotalBytes ?? 0) > 0), JSON.stringify(slow.slice(-2)));
  t.is((await hv.getVm(uuid)).state, 'running');
  t.false((await b.virsh('list', '--all', '--name')).includes(vm.spec.name));

  const fast: MigrationProgress[] = [];
  await hv.migrate(uuid, { ...base, onProgress: (p) => fast.push(p) });
  await waitFor('stopped/migrated at the source', () => events.some((e) => e.uuid === uuid && e.kind === 'stopped' && e.reason === 'migrated'), 30_000);
  t.is((await b.virsh('domstate', vm.spec.name)).trim(), 'running');
  t.log(`aborted after ${slow.length} progress reports; full migration reported ${fast.length}`);
});
