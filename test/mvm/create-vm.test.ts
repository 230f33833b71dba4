// The host side of create-vm on libvirt's test driver behind libvirt-dbus: the adapter defines the
// VM, writes the vmanage metadata and starts it, and reads the metadata back in getVm; a UUID that
// is already a VM here is refused before libvirt is asked (DefineXML would replace it), libvirt's
// own refusal comes back as VM_CREATE_FAILED with its message, and metadata with bad values is
// left out and counted. The daemon's handler answers the leader with the outcome.
import test from 'ava';
import { pino } from 'pino';
import { LibvirtHypervisor } from '../../src/adapters/libvirt/index.js';
import { createVmHandler } from '../../src/daemons/mvm/create-vm.js';
import { ErrorCodes, isVmanageError } from '../../src/domain/errors.js';
import { VM_METADATA_NS, type Hypervisor } from '../../src/domain/ports/hypervisor.js';
import { startLibvirt } from './support.js';

const quiet = pino({ level: 'silent' });
const xml = (name: string, uuid?: string): string =>
  `<domain type='test'><name>${name}</name>${uuid ? `<uuid>${uuid}</uuid>` : ''}<memory unit='MiB'>128</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>`;

test('the libvirt adapter creates a VM with its vmanage metadata, refuses a UUID in use and reports libvirt\'s refusal', async (t) => {
  const lv = await startLibvirt(t);
  const hv = new LibvirtHypervisor({ uri: 'test:///default', busAddress: lv.ld.address, livenessIntervalMs: 0, log: quiet });
  t.teardown(() => hv.close());
  const handler = createVmHandler({ hypervisor: hv, log: quiet });

  const r = await handler.handle({ token: 1, op: 'create-vm', xml: xml('db1'), decisionId: 9, slaClass: 'gold', minTrust: 'trusted' });
  t.true(r.done, r.reason);
  const vm = await hv.getVm(r.vm as string);
  t.like(vm, { name: 'db1', state: 'running', meta: { slaClass: 'gold', minTrust: 'trusted' } });
  t.is(hv.counters.created, 1);

  const again = await handler.handle({ token: 1, op: 'create-vm', xml: xml('db2', vm.uuid), decisionId: 10, slaClass: 'silver' });
  t.false(again.done);
  t.regex(again.reason ?? '', /^INVALID_INPUT: VM [0-9a-f-]+ already exists on this host/);
  t.is((await hv.getVm(vm.uuid)).name, 'db1', 'the existing VM is untouched');

  const dup = await hv.createVm(xml('db1'), { slaClass: 'bronze' }).then(() => undefined, (err: unknown) => err);
  t.true(isVmanageError(dup, ErrorCodes.VmCreateFailed), String(dup));
  t.regex(String((dup as Error).message), /libvirt DomainDefineXML: .*db1/);
  t.deepEqual((await hv.listVms()).map((v) => v.name).sort(), ['db1', 'test']);
  t.like(handler.counters, { created: 1, failed: 1, refused: 0 });

  // An admin's metadata with a value out of range: left out, counted; the good one is kept.
  const [path] = await lv.raw.call('/org/libvirt/Test', 'org.libvirt.Connect', 'DomainLookupByName', 's', ['test']) as [string];
  await lv.raw.call(path, 'org.libvirt.Domain', 'SetMetadata', 'isssu', [2, '<vm slaClass="platinum" minReliability="0.75"/>', 'vmanage', VM_METADATA_NS, 1]);
  const test1 = (await hv.listVms()).find((v) => v.name === 'test');
  t.deepEqual(test1?.meta, { minReliability: 0.75 });
  t.true(hv.counters.badMetadata >= 1);
});

test('a hypervisor that cannot create VMs makes the handler refuse create-vm', async (t) => {
  const hv = { uri: 'sim:///' } as unknown as Hypervisor;
  const r = await createVmHandler({ hypervisor: hv, log: quiet }).handle({ token: 1, op: 'create-vm', xml: xml('x'), decisionId: 1, slaClass: 'silver' });
  t.deepEqual(r, { done: false, reason: 'this host\'s hypervisor (sim:///) cannot create VMs' });
});
