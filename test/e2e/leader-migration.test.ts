// A live migration decided by the Cluster Leader and carried out by the host daemons, on real
// parts: two libvirtd in their own namespaces (test/support/libvirtd.ts), a TCG VM whose agent
// streams numbered SLA reports, a vmanage-mvm per host (power section on the shared powerd, the
// leader section with the host's peer-to-peer migration URI), and the leader's own code
// (startLeader: its store, term, host sessions over a unix socket and migration tracker) run in
// the test process so the operator's LeaderApi.migrate can ask for the move. The leader journals
// the decision and sends migrate to the source host, which runs libvirt's peer-to-peer live
// migration, reports progress and the end; the guest's M-channel session goes to the destination
// host daemon through the handover. Checked: the VM runs on the destination, the journal says
// succeeded with the decision's reason, and no SLA report was lost, repeated or reordered.
// The second test runs the vmanage-leader process itself: the source host's operator asks (mvm
// control socket -> host.migration-request) and the leader chooses the destination.
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseLeaderConfig } from '../../src/daemons/leader/config.js';
import { startLeader } from '../../src/daemons/leader/leader.js';
import { splitCovers } from '../leader-daemon/support.js';
import { powerSection, startPowerd } from '../mvm/support.js';
import { startProcess, tempDir, waitFor, type Teardown } from '../support/proc.js';
import { buildGuest, newVmSpec } from '../support/vm.js';
import { e2eVm } from './lib/guest-vm.js';
import { startStacks } from './lib/stack.js';
import { explainFailure, reportsFlow, sessionEvents, streamIntact, streamingAgent } from './lib/guest-stream.js';

test('the leader decides a live migration, the source host carries it out and the guest session survives', async (t) => {
  const image = await buildGuest();
  const dir = await tempDir(t, 'vmanage-e2e-leader-');
  const sock = join(dir, 'leader.sock');
  const cfg = parseLeaderConfig({
    id: 'cl1', listen: { unix: sock }, store: { path: join(dir, 'leader.db') }, cluster: { budgetWatts: 2000 },
    // No audit during the test: the only migration is the one asked for.
    periods: { tickMs: 500, splitMs: 1000, auditMs: 3_600_000 },
    failure: { hostTimeoutMs: 15_000, migrationTimeoutMs: 120_000, commandTimeoutMs: 10_000 },
  });
  const keepAlive = setInterval(() => {}, 1000); // the leader's timers are unref'd
  t.teardown(() => clearInterval(keepAlive));
  const leader = await startLeader(cfg, pino({ level: 'warn' }));
  t.teardown(() => leader.stop());
  const pd = await startPowerd(t);
  const { a, b } = await startStacks(t, {
    mvmConfig: (host) => ({
      power: powerSection(pd.address, 0.2),
      leader: { endpoint: { unix: sock }, updateMs: 500, migrationUri: host.p2pUri, platformRoot: null },
    }),
  });
  const vm = e2eVm(newVmSpec(image, streamingAgent));
  const uuid = vm.spec.uuid;
  t.teardown(async () => { await vm.destroy(a.host); await vm.destroy(b.host); });
  const failure = explainFailure(t, vm, [a, b], () => `--- leader migrations: ${JSON.stringify(leader.migrations({ limit: 5 }))}`);

  await vm.start(a.host);
  await waitFor('the first SLA report at host daemon a', () => a.lines().some((l) => l.event === 'sla.report' && l.vm === uuid), 120_000, 100);
  await waitFor('the leader to see the VM on a and both hosts up', () =>
    leader.vms().some((v) => v.uuid === uuid && v.host === 'a') && leader.hosts().filter((h) => h.liveness === 'up' && h.migrationUri).length === 2, 30_000, 100);
  await splitCovers(leader, 2); // until then a new host has an idle-power placeholder budget and takes no VM
  await reportsFlow([a, b], vm, 'before the migration');

  const answer = await leader.migrate(uuid, 'b', { dryRun: false });
  t.true(answer.done, answer.reason);
  const decision = answer.decisions[0]!;
  t.like(decision, { kind: 'migrate-vm', target: uuid, from: 'a', to: 'b' });
  const resumedOnB = (): boolean => sessionEvents(b, uuid, 'resumed-from-handover') > 0;
  const m = await waitFor('the migration to end at the leader', () => {
    const x = leader.migrations({ limit: 5 }).find((y) => y.vm === uuid);
    return x && x.state !== 'running' && x.state !== 'planned' ? x : undefined;
  }, 120_000, 100);
  t.is(m.state, 'succeeded', m.error);
  t.like(m, { from: 'a', to: 'b', decisionId: decision.id });
  await waitFor('the session to resume on b', resumedOnB, 60_000, 100);

  t.regex(await b.host.virsh('domstate', vm.spec.name), /running/);
  await t.throwsAsync(a.host.virsh('domstate', vm.spec.name), undefined, 'the VM left a (undefined at the source)');
  const explained = leader.explain(decision.id)!;
  t.is(explained.outcome, 'succeeded');
  t.deepEqual(explained.reason, decision.reason);
  t.true(explained.reason.text.length > 0);
  await waitFor('the leader to list the VM on b', () => leader.vms().some((v) => v.uuid === uuid && v.host === 'b'), 30_000, 100);
  const started = a.lines().find((l) => l.event === 'migration.started' && l.vm === uuid);
  const succeeded = a.lines().find((l) => l.event === 'migration.succeeded' && l.vm === uuid);
  t.like(started, { to: 'b', destinationUri: b.host.p2pUri });
  t.truthy(succeeded, 'the source host daemon carried the migration out');

  const v = await streamIntact(t, vm, [a, b], b);
  t.log(`migration ${m.id}: ${String(succeeded?.['elapsedMs'])} ms at the source; ${v.count} reports`);
  failure.ok();
});

const root = new URL('../..', import.meta.url).pathname;

function control(path: string, req: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('error', reject);
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) { sock.destroy(); resolve(JSON.parse(buf.slice(0, nl))); }
    });
    sock.write(`${JSON.stringify(req)}\n`);
  });
}

function leaderLines(out: string, event: string): Record<string, unknown>[] {
  return out.split('\n').filter((l) => l.includes(`"event":"${event}"`)).map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('the vmanage-leader process moves a VM its host asked to move away, choosing the destination itself', async (t) => {
  const image = await buildGuest();
  const dir = await tempDir(t, 'vmanage-e2e-leaderd-');
  const sock = join(dir, 'leader.sock');
  const file = join(dir, 'leader.json');
  writeFileSync(file, JSON.stringify({
    id: 'cl1', listen: { unix: sock }, store: { path: join(dir, 'leader.db') }, http: { port: 0 }, cluster: { budgetWatts: 2000 },
    periods: { tickMs: 500, splitMs: 1000, auditMs: 3_600_000 }, log: { level: 'info' },
  }));
  const leader = await startProcess(t as Teardown, process.execPath, ['--import', 'tsx', join(root, 'src/daemons/leader/main.ts'), '-c', file], {
    cwd: root, ready: /vmanage-leader ready/, readyTimeoutMs: 60_000,
  });
  const pd = await startPowerd(t);
  const { a, b } = await startStacks(t, {
    mvmConfig: (host) => ({
      control: { socket: join(host.dir, 'control.sock') },
      power: powerSection(pd.address, 0.2),
      leader: { endpoint: { unix: sock }, updateMs: 500, migrationUri: host.p2pUri, platformRoot: null },
    }),
  });
  const vm = e2eVm(newVmSpec(image, streamingAgent));
  const uuid = vm.spec.uuid;
  t.teardown(async () => { await vm.destroy(a.host); await vm.destroy(b.host); });
  const failure = explainFailure(t, vm, [a, b], () => `--- leader:\n${leader.output().split('\n').slice(-30).join('\n')}`);
  await vm.start(a.host);
  await waitFor('the first SLA report at host daemon a', () => a.lines().some((l) => l.event === 'sla.report' && l.vm === uuid), 120_000, 100);
  await waitFor('both hosts registered at the leader', () => new Set(leaderLines(leader.output(), 'leader.host-registered').map((l) => l['host'])).size === 2, 30_000, 100);
  await reportsFlow([a, b], vm, 'before the migration');

  // Until a's next update lists the VM the leader answers that it does not know it.
  const asked = await waitFor('the leader to accept the request', async () => {
    const r = await control(join(a.host.dir, 'control.sock'), { op: 'request-migration', vm: uuid, reason: 'maintenance' }) as { ok?: boolean; error?: { message: string } };
    if (r.error && !/is not listed on/.test(r.error.message)) throw new Error(`request refused: ${r.error.message}`);
    return r.ok ? r : undefined;
  }, 30_000, 500);
  t.deepEqual(asked, { ok: true });
  const decision = await waitFor('the leader\'s migrate decision', () => leaderLines(leader.output(), 'leader.decision').find((d) => d['kind'] === 'migrate-vm' && d['target'] === uuid), 30_000, 100);
  t.like(decision, { from: 'a', to: 'b', reason: { code: 'host-request' } });
  const end = await waitFor('the migration to end at the leader', () => leaderLines(leader.output(), 'leader.migration-end').find((l) => l['vm'] === uuid), 120_000, 100);
  t.like(end, { outcome: 'succeeded', from: 'a', to: 'b' }, JSON.stringify(end));
  await waitFor('the session to resume on b', () => sessionEvents(b, uuid, 'resumed-from-handover') > 0, 60_000, 100);
  t.regex(await b.host.virsh('domstate', vm.spec.name), /running/);
  const outcome = await waitFor('the decision\'s outcome in the journal', () => leaderLines(leader.output(), 'leader.outcome').find((l) => l['id'] === decision['id']), 30_000, 100);
  t.like(outcome, { outcome: 'succeeded' }, JSON.stringify(outcome));
  await streamIntact(t, vm, [a, b], b);
  failure.ok();
});
