// Placement that creates the VM, and VM SLA classes from the domain metadata, end to end: a real
// leader core with its HTTP API, a real vmanage-mvm process (libvirt's test driver behind
// libvirt-dbus, the sim power sensor, powerd on a private bus) registered over a unix socket,
// and vmanagectl as a process. Checked: `place --create --xml` makes the leader choose the host,
// journal the decision, have the host define and start the VM with the vmanage metadata, and
// record `created`; the leader then lists the VM with the SLA class and requirements the host
// reads back from libvirt; metadata the admin sets (SetMetadata, as `virsh metadata` does) reaches
// the leader too; a VM libvirt refuses (a name already defined) is journaled `failed` with
// libvirt's error and nothing is left defined; a malformed XML never reaches a host.
import test from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DecisionView, PlaceAnswer } from '../../src/daemons/leader/api.js';
import { VM_METADATA_NS } from '../../src/domain/ports/hypervisor.js';
import { ctl, ctlBundle, json } from '../cli/support.js';
import { startCluster } from '../leader-http/support.js';
import { powerSection, startLibvirt, startMvmDaemon, startPowerd } from '../mvm/support.js';
import { tempDir, waitFor } from '../support/proc.js';
import { splitCovers } from './support.js';

test.before(async () => { await ctlBundle(); });

const CONNECT = ['/org/libvirt/Test', 'org.libvirt.Connect'] as const;
const domainXml = (name: string): string =>
  `<domain type='test'>\n  <name>${name}</name>\n  <memory unit='MiB'>256</memory>\n  <vcpu>1</vcpu>\n  <os><type>hvm</type></os>\n</domain>\n`;

test('place --create defines and starts the VM on the chosen host with its SLA metadata; libvirt\'s refusal is journaled', async (t) => {
  const [pd, lv, dir] = await Promise.all([startPowerd(t), startLibvirt(t), tempDir(t, 'vmanage-create-')]);
  const c = await startCluster(t, { cfg: { failure: { hostTimeoutMs: 5000, commandTimeoutMs: 15_000 } } });
  await startMvmDaemon(t, lv, {
    power: powerSection(pd.address, 0.1),
    leader: { endpoint: { unix: c.leader.address }, updateMs: 200, trust: 'trusted', platformRoot: null },
  });
  await splitCovers(c.leader, 1);
  await waitFor('the test driver\'s VM at the leader', () => c.leader.vms().some((v) => v.name === 'test'), 30_000);
  t.is(c.leader.vms().find((v) => v.name === 'test')?.slaClass, 'silver', 'no metadata: silver');
  const L = ['--leader', c.url];

  // Placement that creates the VM.
  const file = join(dir, 'web1.xml');
  await writeFile(file, domainXml('web1'));
  const run = await ctl(['place', '--create', '--xml', file, '--sla', 'gold', '--min-trust', 'standard', '--min-reliability', '0.5', '--cpu-util', '0.2', '--json', ...L]);
  t.is(run.code, 0, run.out + run.err);
  const a = json<PlaceAnswer>(run);
  t.like(a, { placed: true, created: true, host: 'h1', dryRun: false });
  t.regex(a.reason, /^created web1 \(/);
  const vm = a.vm as string;
  const [path] = await lv.raw.call(...CONNECT, 'DomainLookupByName', 's', ['web1']) as [string];
  const [xml] = await lv.raw.call(path, 'org.libvirt.Domain', 'GetXMLDesc', 'u', [0]) as [string];
  t.true(xml.includes(`<uuid>${vm}</uuid>`), 'the UUID the leader journaled is the VM\'s');
  t.regex(xml, new RegExp(`<vmanage:vm xmlns:vmanage="${VM_METADATA_NS}" slaClass="gold" minReliability="0.5" minTrust="standard"/>`));
  const [[state]] = await lv.raw.call(path, 'org.libvirt.Domain', 'GetState', 'u', [0]) as [[number, number]];
  t.is(state, 1, 'running');
  const explained = json<DecisionView>(await ctl(['explain', String(a.decision?.id), '--json', ...L]));
  t.like(explained, { kind: 'place-vm', target: vm, to: 'h1', outcome: 'created', actual: { host: 'h1', vm, name: 'web1' }, inputs: { create: true, sla: 'gold' } });
  t.regex((await ctl(['explain', String(a.decision?.id), ...L])).out, /^outcome\s+created$/m);
  // The host reads the metadata back from libvirt and reports it: the leader plans with it.
  const seen = await waitFor('web1 at the leader with its class', () => c.leader.vms().find((v) => v.uuid === vm && v.slaClass === 'gold'), 30_000);
  t.like(seen, { host: 'h1', name: 'web1', minTrust: 'standard', minReliability: 0.5 });
  t.regex((await ctl(['vms', ...L])).out, new RegExp(`^${vm}\\s+web1\\s+h1\\s.*\\sgold\\s+rel>=0.5,standard\\s`, 'm'));

  // The admin classes a running VM (virsh metadata ... --key vmanage --set '<vm .../>').
  const [testPath] = await lv.raw.call(...CONNECT, 'DomainLookupByName', 's', ['test']) as [string];
  await lv.raw.call(testPath, 'org.libvirt.Domain', 'SetMetadata', 'isssu', [2, '<vm slaClass="bronze" minTrust="trusted"/>', 'vmanage', VM_METADATA_NS, 1]);
  t.like(await waitFor('the admin\'s class at the leader', () => c.leader.vms().find((v) => v.name === 'test' && v.slaClass === 'bronze'), 30_000), { minTrust: 'trusted' });

  // libvirt refuses a second domain named "test": the decision is journaled failed with its error.
  const dup = join(dir, 'dup.xml');
  await writeFile(dup, domainXml('test'));
  const refused = await ctl(['place', '--create', '--xml', dup, '--json', ...L]);
  t.is(refused.code, 3, refused.out + refused.err);
  const r = json<PlaceAnswer>(refused);
  t.like(r, { placed: true, created: false, host: 'h1' });
  t.regex(r.reason, /not created: VM_CREATE_FAILED: libvirt DomainDefineXML: .*test/);
  const failed = c.leader.explain(r.decision?.id as number);
  t.like(failed, { outcome: 'failed', actual: { host: 'h1', vm: r.vm } });
  t.regex(String(failed?.actual?.['error']), /VM_CREATE_FAILED/);
  const [names] = await lv.raw.call(...CONNECT, 'ListDomains', 'u', [0]) as [string[]];
  t.is(names.length, 2, 'test and web1; nothing left of the refused one');

  // A malformed XML is refused by the leader (counted), and no decision is journaled.
  const before = c.leader.decisions({ limit: 1 })[0]?.id;
  await writeFile(dup, '<domain type="test"><name>x</name>');
  const bad = await ctl(['place', '--create', '--xml', dup, '--vcpus', '1', '--memory', '256', ...L]);
  t.is(bad.code, 3);
  t.regex(bad.out, /not placed: invalid request: xml: domain XML is malformed/);
  t.is(c.leader.decisions({ limit: 1 })[0]?.id, before);
  t.regex(await c.leader.registry.metrics(), /vmanage_leader_vm_creations_total\{outcome="invalid"\} 1/);
});
