// VM creations whose host did not answer create-vm in time, through the real leader (in-process
// core, SQLite journal, M-channel server on a memory network) and host daemons played by the real
// LeaderLink: the decision is `unknown`, then `created` (with the host and how late) when a
// host's update lists the VM, on the chosen host or another one; `lost` when none lists it by
// failure.creationLostMs; meanwhile the VM counts on the chosen host, so a placement cannot
// over-commit it; a leader that loses its term stops following what it cannot know any more.
import test from 'ava';
import type { CreateVmCommand } from '../../src/adapters/leader-link/link.js';
import { parseLeaderConfig } from '../../src/daemons/leader/config.js';
import { MAX_PENDING_CREATIONS } from '../../src/daemons/leader/creations.js';
import type { Leader, LeaderCore } from '../../src/daemons/leader/leader.js';
import type { TermSource } from '../../src/daemons/leader/term.js';
import type { HostRegister } from '../../src/protocol/leader.js';
import { waitFor, type Teardown } from '../support/proc.js';
import { DrivenTerm, leaderConfig, splitCovers, startTestHost, startTestLeader, uuidOf, type MemoryHub, type TestHost } from './support.js';

const xmlOf = (name: string, memoryMiB: number): string => `<domain type='kvm'><name>${name}</name><memory unit='MiB'>${memoryMiB}</memory><vcpu>1</vcpu></domain>`;
const create = (name: string, memoryMiB = 512, over: { minTrust?: 'trusted'; xml?: string } = {}) =>
  ({ vcpus: 1, memoryMiB, cpuUtil: 0.1, xml: over.xml ?? xmlOf(name, memoryMiB), create: true, ...(over.minTrust ? { minTrust: over.minTrust } : {}) });

/** A host that takes create-vm commands and never answers them (as if its answer were lost). */
function silentHost(t: Teardown, hub: MemoryHub, id: string, reg: Partial<HostRegister> = {}): TestHost & { got: CreateVmCommand[] } {
  const got: CreateVmCommand[] = [];
  const h = startTestHost(t, hub, id, {
    reg, updateMs: 50,
    commands: {
      migrate: () => ({ done: false }), abortMigration: () => ({ done: false }), powerOff: () => ({ done: false }),
      createVm: (c) => { got.push(c); return new Promise<never>(() => {}); },
    },
  });
  return { ...h, got };
}

/** The host now runs VM `uuid` (its next update lists it). */
function runs(h: TestHost, uuid: string, memoryMiB = 512): void {
  h.state.vms.push({ uuid, cpuUtil: 0.1, vcpus: 1, memoryKiB: memoryMiB * 1024 });
}

async function leaderWith(t: Teardown, creationLostMs: number, term?: () => TermSource): Promise<{ leader: Leader; hub: MemoryHub }> {
  const cfg = await leaderConfig(t, { failure: { hostTimeoutMs: 10_000, migrationTimeoutMs: 3000, commandTimeoutMs: 300, creationLostMs } });
  return await startTestLeader(t, cfg, undefined, term ? { term } : {});
}

const minimal = { id: 'cl1', listen: { unix: '/run/vmanage/leader.sock' }, store: { path: ':memory:' }, cluster: { budgetWatts: 5000 } };

test('failure.creationLostMs is 10 min by default, also when the failure section sets other keys', (t) => {
  t.is(parseLeaderConfig(minimal).failure.creationLostMs, 600_000);
  t.like(parseLeaderConfig({ ...minimal, failure: { hostTimeoutMs: 5000 } }).failure, { hostTimeoutMs: 5000, commandTimeoutMs: 10_000, creationLostMs: 600_000 });
});

const badDeadlines: [string, Record<string, number>, RegExp][] = [
  ['not more than the command timeout', { commandTimeoutMs: 10_000, creationLostMs: 10_000 }, /failure\.creationLostMs: must be more than failure\.commandTimeoutMs/],
  ['over a day', { creationLostMs: 86_400_001 }, /failure\.creationLostMs: /],
  ['not an integer', { creationLostMs: 1.5 }, /failure\.creationLostMs: /],
];
for (const [what, failure, message] of badDeadlines) {
  test(`a creation deadline ${what} is refused naming failure.creationLostMs`, (t) => {
    const err = t.throws(() => parseLeaderConfig({ ...minimal, failure }, 'leader.yaml'), { code: 'CONFIG_INVALID' });
    t.regex(err?.message ?? '', message);
  });
}

const outcomeOf = (leader: Leader, id: number | undefined): string | undefined => leader.explain(id as number)?.outcome;

test('a VM the host did not answer for is created late when a host lists it: the chosen one, or another that says so', async (t) => {
  const { leader, hub } = await leaderWith(t, 600_000);
  const h1 = silentHost(t, hub, 'h1');
  const h2 = silentHost(t, hub, 'h2', { trust: 'standard' });
  await splitCovers(leader, 2);

  const a = await leader.place(create('web1', 512, { minTrust: 'trusted' }), { dryRun: false });
  t.like(a, { placed: true, created: false, host: 'h1' });
  t.regex(a.reason, /no answer from h1: .*the VM may still be created/);
  t.is(outcomeOf(leader, a.decision?.id), 'unknown');
  const b = await leader.place(create('web2', 512, { minTrust: 'trusted' }), { dryRun: false });
  t.like(b, { placed: true, created: false, host: 'h1' });
  t.is(h1.got.length, 2);
  t.is(h2.got.length, 0);

  runs(h1, a.vm as string);
  runs(h2, b.vm as string); // e.g. an operator started it by hand there
  await waitFor('both decisions resolved', () => outcomeOf(leader, a.decision?.id) === 'created' && outcomeOf(leader, b.decision?.id) === 'created', 30_000);
  const da = leader.explain(a.decision?.id as number);
  t.like(da, { kind: 'place-vm', target: a.vm, to: 'h1', actual: { host: 'h1', vm: a.vm, name: 'web1' } });
  t.true(Number(da?.actual?.['lateMs']) >= 300, 'at least the command timeout after the decision');
  t.false('chosenHost' in (da?.actual ?? {}));
  t.like(leader.explain(b.decision?.id as number), { to: 'h1', actual: { host: 'h2', chosenHost: 'h1', vm: b.vm, name: 'web2' } });
  const metrics = await leader.registry.metrics();
  t.regex(metrics, /vmanage_leader_vm_creations_total\{outcome="unknown"\} 2/);
  t.regex(metrics, /vmanage_leader_vm_creations_total\{outcome="created-late"\} 2/);
});

test('while a creation\'s outcome is unknown its VM counts on the chosen host: the next placement does not over-commit it', async (t) => {
  const { leader, hub } = await leaderWith(t, 600_000);
  const h1 = silentHost(t, hub, 'h1'); // 16 GiB
  await splitCovers(leader, 1);
  const big = await leader.place(create('big', 10_240), { dryRun: false });
  t.like(big, { placed: true, created: false, host: 'h1' });
  t.is(outcomeOf(leader, big.decision?.id), 'unknown');

  const next = await leader.place(create('big2', 10_240), { dryRun: false });
  t.like(next, { placed: false });
  t.regex(next.reason, /no host passes the filters \(memory 1\)/);
  const again = await leader.place(create('big', 10_240, { xml: xmlOf('big', 10_240).replace('<vcpu>', `<uuid>${big.vm as string}</uuid><vcpu>`) }), { dryRun: false });
  t.like(again, { placed: false });
  t.regex(again.reason, new RegExp(`<uuid> ${big.vm as string} is being created on host h1 \\(decision ${big.decision?.id as number}, outcome unknown so far\\)`));
  t.true((await leader.place(create('small', 4096), { dryRun: true })).placed, 'what still fits is placed');
  t.is(h1.got.length, 1, 'only the first creation reached the host');
});

test('a VM no host lists by failure.creationLostMs is lost, and then no longer counts on its host', async (t) => {
  const { leader, hub } = await leaderWith(t, 1500);
  const h1 = silentHost(t, hub, 'h1');
  await splitCovers(leader, 1);
  const big = await leader.place(create('big', 10_240), { dryRun: false });
  t.like(big, { placed: true, created: false, host: 'h1' });
  await waitFor('the creation lost', () => outcomeOf(leader, big.decision?.id) === 'lost', 30_000);
  const d = leader.explain(big.decision?.id as number);
  t.like(d, { actual: { host: 'h1', vm: big.vm, name: 'big' } });
  t.regex(String(d?.actual?.['error']), /no answer from h1, and no host listed the VM within 1500 ms of the decision/);
  t.regex(await leader.registry.metrics(), /vmanage_leader_vm_creations_total\{outcome="lost"\} 1/);
  t.like(await leader.place(create('big2', 10_240), { dryRun: true }), { placed: true, host: 'h1' });

  runs(h1, big.vm as string);
  await waitFor('the VM at the leader', () => leader.vms().some((v) => v.uuid === big.vm));
  t.is(outcomeOf(leader, big.decision?.id), 'lost', 'a VM that shows up after its deadline is an ordinary VM');
});

test('while the leader follows as many unknown creations as it can, it refuses new ones and counts them', async (t) => {
  const { leader, hub } = await leaderWith(t, 600_000);
  const h1 = silentHost(t, hub, 'h1');
  await splitCovers(leader, 1);
  const creations = (leader as LeaderCore).ops.creations;
  const decidedAt = Date.now();
  // As many as the bound, as if that many hosts had gone silent on create-vm (tiny VMs: no filter refuses).
  for (let i = 0; i < MAX_PENDING_CREATIONS; i++) {
    t.true(creations.unknown({ decisionId: 0, name: `v${i}`, decidedAt, vm: { uuid: uuidOf(1000 + i), host: 'h1', vcpus: 1, memoryMiB: 0, cpuUtil: 0, cpuPeak: 0, sla: 'bronze', minReliability: 0, minTrust: 'untrusted' } }));
  }
  const a = await leader.place(create('web1'), { dryRun: false });
  t.like(a, { placed: false });
  t.regex(a.reason, new RegExp(`^${MAX_PENDING_CREATIONS} VM creations have no known outcome yet`));
  t.true((await leader.place(create('web1'), { dryRun: true })).placed, 'a dry run sends nothing: not refused');
  t.is(h1.got.length, 0);
  t.regex(await leader.registry.metrics(), /vmanage_leader_vm_creations_total\{outcome="too-many-unknown"\} 1/);
});

test('a leader that loses its term stops following unknown creations: elected again, it leaves them unknown', async (t) => {
  const term = new DrivenTerm(1);
  const { leader, hub } = await leaderWith(t, 600_000, () => term);
  const h1 = silentHost(t, hub, 'h1');
  await splitCovers(leader, 1);
  const a = await leader.place(create('web1'), { dryRun: false });
  t.is(outcomeOf(leader, a.decision?.id), 'unknown');
  term.depose();
  term.elect(2);
  runs(h1, a.vm as string);
  await waitFor('the VM at the leader', () => leader.vms().some((v) => v.uuid === a.vm), 30_000);
  t.is(outcomeOf(leader, a.decision?.id), 'unknown', 'the new term knows nothing of it');
  t.notRegex(await leader.registry.metrics(), /outcome="created-late"/);
});
