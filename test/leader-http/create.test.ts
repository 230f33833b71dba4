// Placement that creates the VM, through the HTTP API: the domain XML is untrusted input (checked
// for size, DTDs, well-formedness, a name, a UUID, a size that matches the request; every refusal
// says what and is counted), the chosen host gets leader.command create-vm with the token, the
// XML (with the UUID the leader journaled) and the SLA metadata; the decision's outcome follows
// the host's answer. Also the vmanage metadata reader the host daemon uses.
import test from 'ava';
import fc from 'fast-check';
import { systemClock } from '../../src/adapters/clock.js';
import { LeaderLink, type CreateVmCommand } from '../../src/adapters/leader-link/link.js';
import { parseDomainXml } from '../../src/adapters/libvirt/domain-xml.js';
import { checkCreateXml, vmMetaElement, vmMetaOf } from '../../src/adapters/libvirt/vm-meta.js';
import type { DecisionView, PlaceAnswer } from '../../src/daemons/leader/api.js';
import { ErrorCodes, isVmanageError } from '../../src/domain/errors.js';
import { VM_METADATA_NS } from '../../src/domain/ports/hypervisor.js';
import { unixConnector } from '../../src/mchannel/index.js';
import { MAX_CREATE_XML_BYTES, type HostUpdate } from '../../src/protocol/leader.js';
import { registration } from '../leader-daemon/support.js';
import { waitFor, type Teardown } from '../support/proc.js';
import { call, quiet, startCluster, uuidOf } from './support.js';

const UUID = '6f1d2a3b-4c5d-4e6f-8a7b-9c0d1e2f3a4b';
const xmlOf = (body: string): string => `<domain type='kvm'>${body}</domain>`;
const GOOD = `<name>web1</name><memory unit='MiB'>512</memory><vcpu>2</vcpu><os><type>hvm</type></os>`;

const refusals: [string, string, RegExp][] = [
  ['more than the size bound', xmlOf(GOOD + `<description>${'x'.repeat(MAX_CREATE_XML_BYTES)}</description>`), /bytes; at most/],
  ['a DOCTYPE (entity expansion)', `<!DOCTYPE d [<!ENTITY a "aaaa">]>${xmlOf(GOOD)}`, /DOCTYPE or ENTITY/],
  ['unclosed tags', "<domain type='kvm'><name>web1</name>", /malformed/],
  ['another root element', '<network><name>n</name></network>', /no <domain> root/],
  ['no name', xmlOf("<memory unit='MiB'>512</memory><vcpu>1</vcpu>"), /<name> must have 1\.\.64/],
  ['a name with a slash', xmlOf("<name>a/b</name><memory unit='MiB'>512</memory><vcpu>1</vcpu>"), /contains '\/'/],
  ['a malformed UUID', xmlOf(`<uuid>not-a-uuid</uuid>${GOOD}`), /<uuid> is not a UUID/],
  ['zero vCPUs', xmlOf("<name>w</name><memory unit='MiB'>512</memory><vcpu>0</vcpu>"), /<vcpu> must be an integer/],
  ['no memory', xmlOf('<name>w</name><vcpu>1</vcpu>'), /<memory> must be at least 1 MiB/],
];

for (const [what, xml, message] of refusals) {
  test(`a domain XML with ${what} is refused with INVALID_INPUT saying so`, (t) => {
    const err = t.throws(() => checkCreateXml(xml));
    t.true(isVmanageError(err, ErrorCodes.InvalidInput));
    t.regex(err?.message ?? '', message);
  });
}

test('a domain XML without a UUID gets one; one with a UUID keeps it (lower case)', (t) => {
  const a = checkCreateXml(`<?xml version="1.0"?>\n<!-- a VM -->\n${xmlOf(GOOD)}`);
  t.like(a, { name: 'web1', vcpus: 2, memoryMiB: 512 });
  t.is(String(parseDomainXml(a.xml)['uuid']), a.uuid);
  const b = checkCreateXml(xmlOf(`<uuid>${UUID.toUpperCase()}</uuid>${GOOD}`));
  t.is(b.uuid, UUID);
  t.is(b.xml, xmlOf(`<uuid>${UUID.toUpperCase()}</uuid>${GOOD}`), 'left as it was');
});

test('any text is either a checked domain XML or an INVALID_INPUT refusal, never another error', (t) => {
  const piece = fc.constantFrom('<domain>', '</domain>', '<name>', '</name>', 'x', '<uuid>', '</uuid>', UUID, '<vcpu>', '</vcpu>', '2', '<memory>', '</memory>', '<!--', '-->', '&amp;', '&', '<', '>', '"', "'", '<?xml?>', ' ');
  fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.array(piece, { maxLength: 40 }).map((p) => p.join(''))), (s) => {
    try {
      const c = checkCreateXml(s);
      return c.vcpus >= 1 && c.memoryMiB >= 1 && c.name.length >= 1 && String(parseDomainXml(c.xml)['uuid']).toLowerCase() === c.uuid;
    } catch (err) {
      return isVmanageError(err, ErrorCodes.InvalidInput);
    }
  }), { numRuns: 1000 });
  t.pass();
});

test('the vmanage metadata is found by its namespace under any prefix; bad values are left out and named', (t) => {
  const dom = (md: string): Record<string, unknown> => parseDomainXml(xmlOf(`<uuid>${UUID}</uuid>${GOOD}<metadata>${md}</metadata>`));
  const written = vmMetaElement({ slaClass: 'gold', minReliability: 0.9, minTrust: 'attested' }).replace('<vm', `<v:vm xmlns:v="${VM_METADATA_NS}"`);
  t.deepEqual(vmMetaOf(dom(written)), { meta: { slaClass: 'gold', minReliability: 0.9, minTrust: 'attested' }, problems: [] });
  t.deepEqual(vmMetaOf(dom(`<other:vm xmlns:other="https://example.org/x" slaClass="gold"/>`)), { problems: [] }, 'another namespace is not ours');
  const bad = vmMetaOf(dom(`<app:x xmlns:app="https://example.org/a"/><vmanage:vm xmlns:vmanage="${VM_METADATA_NS}" slaClass="platinum" minReliability="2" minTrust="trusted"/>`));
  t.deepEqual(bad.meta, { minTrust: 'trusted' });
  t.is(bad.problems.length, 2);
  t.regex(bad.problems.join('; '), /slaClass "platinum": expected gold, silver or bronze; minReliability "2": expected a number 0\.\.1/);
  t.deepEqual(vmMetaOf(parseDomainXml(xmlOf(`<uuid>${UUID}</uuid>${GOOD}`))), { problems: [] });
});

/** A host daemon's LeaderLink whose create-vm handler records the command and answers `answer`. */
function creatingHost(t: Teardown, socket: string, host: string, answer: (c: CreateVmCommand) => { done: boolean; reason?: string; vm?: string } | Promise<never>, vms: { uuid: string }[] = []): CreateVmCommand[] {
  const got: CreateVmCommand[] = [];
  const update = (): HostUpdate => ({
    ts: Date.now(), watts: 150, budgetWatts: 200, budgetSource: 'leader', capKHz: 2_400_000, reliability: 1,
    vms: vms.map((v) => ({ uuid: v.uuid, cpuUtil: 0.1, sla: 'ok' as const, vcpus: 1, memoryKiB: 1 << 20 })),
  });
  const link = new LeaderLink({
    connector: unixConnector(socket, { label: host }), host, clock: systemClock, log: quiet, updateMs: 50,
    registration: () => registration(host), update, onBudget: () => {}, onConnection: () => {}, heartbeatMs: 200, deadAfterMs: 1000,
    commands: {
      migrate: () => ({ done: false }), abortMigration: () => ({ done: false }), powerOff: () => ({ done: false }),
      createVm: (c) => { got.push(c); return answer(c); },
    },
  });
  t.teardown(() => link.stop());
  return got;
}

test('place with create sends the chosen host create-vm with the XML and SLA metadata; the outcome follows its answer', async (t) => {
  const c = await startCluster(t);
  const answers = [{ done: true }, { done: false, reason: 'VM_CREATE_FAILED: libvirt DomainDefineXML: operation failed: domain web1 already exists' }];
  const got = creatingHost(t, c.leader.address, 'h1', (cmd) => ({ ...answers[got.length - 1]!, ...(got.length === 1 ? { vm: checkCreateXml(cmd.xml).uuid } : {}) }), [{ uuid: uuidOf(7) }]);
  await waitFor('h1 with a budget', () => c.leader.budgets().hosts.some((h) => h.host === 'h1' && h.floorWatts > 0) && c.leader.vms().length === 1);
  const xml = xmlOf(GOOD);

  const dry = await call<PlaceAnswer>(c.url, 'POST', '/api/place', { xml, create: true, slaClass: 'gold', dryRun: true });
  t.like(dry.body, { placed: true, host: 'h1', dryRun: true });
  t.regex(dry.body.reason, /^would create web1 on host h1/);
  t.is(got.length, 0, 'a dry run sends nothing');

  const ok = await call<PlaceAnswer>(c.url, 'POST', '/api/place', { xml, create: true, slaClass: 'gold', minTrust: 'trusted', cpuUtil: 0.2 });
  t.is(ok.status, 200, ok.text);
  t.like(ok.body, { placed: true, created: true, host: 'h1' });
  t.like(got[0], { op: 'create-vm', token: c.leader.status().token, slaClass: 'gold', minTrust: 'trusted', decisionId: ok.body.decision?.id });
  t.is(checkCreateXml(got[0]!.xml).uuid, ok.body.vm as string, 'the host defines the UUID the leader journaled');
  t.like(c.leader.explain(ok.body.decision!.id), { target: ok.body.vm, outcome: 'created', actual: { host: 'h1', name: 'web1' } });

  const no = await call<PlaceAnswer>(c.url, 'POST', '/api/place', { xml, create: true });
  t.like(no.body, { placed: true, created: false, host: 'h1' });
  t.regex(no.body.reason, /not created: VM_CREATE_FAILED/);
  const d = (await call<DecisionView>(c.url, 'GET', `/api/decisions/${no.body.decision!.id}`)).body;
  t.like(d, { outcome: 'failed', actual: { host: 'h1' } });
  t.regex(String(d.actual?.['error']), /already exists/);
  t.is(got[1]!.slaClass, 'silver', 'no class asked: silver');

  // Refused before any host is asked: a UUID the cluster has, a size that contradicts the XML.
  const taken = await call<PlaceAnswer>(c.url, 'POST', '/api/place', { xml: xmlOf(`<uuid>${uuidOf(7)}</uuid>${GOOD}`), create: true });
  t.like(taken.body, { placed: false });
  t.regex(taken.body.reason, new RegExp(`<uuid> ${uuidOf(7)} is already a VM on host h1`));
  const size = await call<PlaceAnswer>(c.url, 'POST', '/api/place', { xml, create: true, vcpus: 4, memoryMiB: 512 });
  t.regex(size.body.reason, /vcpus 4 does not match the XML's <vcpu> 2/);
  const none = await call<PlaceAnswer>(c.url, 'POST', '/api/place', { vcpus: 1, memoryMiB: 64, create: true });
  t.regex(none.body.reason, /create: needs xml/);
  t.is(got.length, 2);
  const metrics = await c.leader.registry.metrics();
  t.regex(metrics, /vmanage_leader_vm_creations_total\{outcome="invalid"\} 3/);
  t.regex(metrics, /vmanage_leader_vm_creations_total\{outcome="created"\} 1/);
  t.regex(metrics, /vmanage_leader_vm_creations_total\{outcome="failed"\} 1/);
});

test('a host without create-vm refuses it; the decision is journaled failed with that reason', async (t) => {
  const c = await startCluster(t, { hosts: { h1: [] } });
  await waitFor('h1 with a budget', () => c.leader.budgets().hosts.some((h) => h.host === 'h1' && h.floorWatts > 0));
  const a = await call<PlaceAnswer>(c.url, 'POST', '/api/place', { xml: xmlOf(GOOD), create: true });
  t.like(a.body, { placed: true, created: false });
  t.regex(a.body.reason, /create-vm is not supported by this host/);
  t.is(c.leader.explain(a.body.decision!.id)?.outcome, 'failed');
  const big = await call(c.url, 'POST', '/api/place', { xml: 'x'.repeat(MAX_CREATE_XML_BYTES + 1), create: true });
  t.is(big.status, 400);
  t.regex(big.text, /body\/xml|body\.xml/);
});

test('a host that does not answer create-vm in time leaves the outcome unknown, not failed', async (t) => {
  const c = await startCluster(t, { cfg: { failure: { hostTimeoutMs: 5000, commandTimeoutMs: 300 } } });
  const got = creatingHost(t, c.leader.address, 'h1', () => new Promise<never>(() => {}));
  await waitFor('h1 with a budget', () => c.leader.budgets().hosts.some((h) => h.host === 'h1' && h.floorWatts > 0));
  const a = await call<PlaceAnswer>(c.url, 'POST', '/api/place', { xml: xmlOf(GOOD), create: true });
  t.like(a.body, { placed: true, created: false, host: 'h1' });
  t.regex(a.body.reason, /no answer from h1: .*the VM may still be created/);
  t.is(got.length, 1);
  t.is(c.leader.explain(a.body.decision!.id)?.outcome, 'unknown');
  t.regex(await c.leader.registry.metrics(), /vmanage_leader_vm_creations_total\{outcome="unknown"\} 1/);
});

test('a VM just created counts on its host until the host reports it: back-to-back creations do not overfill it', async (t) => {
  const c = await startCluster(t);
  // The host answers done but never lists the VM (as if its update lagged the creation).
  const got = creatingHost(t, c.leader.address, 'h1', (cmd) => ({ done: true, vm: checkCreateXml(cmd.xml).uuid }));
  await waitFor('h1 with a budget', () => c.leader.budgets().hosts.some((h) => h.host === 'h1' && h.floorWatts > 0));
  const big = xmlOf("<name>big</name><memory unit='GiB'>10</memory><vcpu>1</vcpu>");
  const first = await call<PlaceAnswer>(c.url, 'POST', '/api/place', { xml: big, create: true, cpuUtil: 0.1 });
  t.like(first.body, { placed: true, created: true, host: 'h1' });
  const second = await call<PlaceAnswer>(c.url, 'POST', '/api/place', { xml: big.replace('>big<', '>big2<'), create: true, cpuUtil: 0.1 });
  t.like(second.body, { placed: false });
  t.regex(second.body.reason, /no host passes the filters \(memory 1\)/);
  t.is(got.length, 1);
});
