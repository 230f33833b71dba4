// Migrations through the leader core with the real LeaderLink on the hosts: a host's request
// becomes a journaled migrate decision, a leader.command to the source with the destination's
// libvirt URI, progress and end reported by host.migration-status into the store and the
// decision's outcome (with measured power after the move); silence fails a migration; drain moves
// a host's VMs away; operator migrations and dry runs.
import test from 'ava';
import type { MigrateCommand } from '../../src/adapters/leader-link/link.js';
import { waitFor } from '../support/proc.js';
import { leaderConfig, registered, splitCovers, startTestHost, startTestLeader, uuidOf, type MemoryHub, type TestHost } from './support.js';
import type { Teardown } from '../support/proc.js';

const VM = uuidOf(1);

function migratingHost(t: Teardown, hub: MemoryHub, name: string, vms: { uuid: string; cpuUtil: number }[], answer: 'ok' | 'refuse' = 'ok'): TestHost & { orders: MigrateCommand[] } {
  const orders: MigrateCommand[] = [];
  const h = startTestHost(t, hub, name, {
    vms,
    commands: {
      migrate: (c) => { orders.push(c); return answer === 'ok' ? { done: true } : { done: false, reason: 'VM is paused' }; },
      abortMigration: () => ({ done: true }),
      powerOff: () => ({ done: false, reason: 'not in this test' }),
    },
  });
  return Object.assign(h, { orders });
}

async function twoHosts(t: Teardown, over: Record<string, unknown> = {}) {
  const { leader, hub } = await startTestLeader(t, await leaderConfig(t, { cluster: { budgetWatts: 2000 }, ...over }));
  const src = migratingHost(t, hub, 'h1', [{ uuid: VM, cpuUtil: 0.5 }]);
  const dst = migratingHost(t, hub, 'h2', []);
  await registered(src);
  await registered(dst);
  await waitFor('the VM listed', () => leader.vms().some((v) => v.uuid === VM));
  await splitCovers(leader, 2);
  return { leader, hub, src, dst };
}

test('a host migration request becomes a migrate command with the destination URI, and its statuses end in the journal', async (t) => {
  const { leader, src, dst } = await twoHosts(t);
  await src.link.requestMigration(VM, 20, 'budget violations');
  await waitFor('the migrate command', () => src.orders.length === 1);
  const order = src.orders[0]!;
  t.like(order, { op: 'migrate', vm: VM, to: 'h2', destinationUri: 'qemu+tls://h2/system', token: leader.status().token });
  const decision = leader.decisions({ limit: 50 }).find((d) => d.kind === 'migrate-vm')!;
  t.like(decision, { target: VM, from: 'h1', to: 'h2', token: leader.status().token });
  t.is(decision.reason.code, 'host-request');
  t.is(leader.vms().find((v) => v.uuid === VM)?.migratingTo, 'h2');
  await src.link.migrationStatus({ migrationId: order.migrationId, vm: VM, to: 'h2', state: 'running', progress: 0.4, elapsedMs: 300 });
  await waitFor('progress', () => leader.migrations({ limit: 5 })[0]?.progress === 0.4);
  src.state.vms = [];
  dst.state.vms = [{ uuid: VM, cpuUtil: 0.5 }];
  dst.state.watts = 190;
  await src.link.migrationStatus({ migrationId: order.migrationId, vm: VM, to: 'h2', state: 'succeeded', elapsedMs: 900 });
  await waitFor('the migration succeeded', () => leader.migrations({ limit: 5 })[0]?.state === 'succeeded');
  t.is(leader.status().migrationsInFlight, 0);
  await waitFor('the measured outcome', () => leader.explain(decision.id)?.actual?.['destWatts'] !== undefined, 5000);
  const explained = leader.explain(decision.id)!;
  t.is(explained.outcome, 'succeeded');
  t.like(explained.actual, { elapsedMs: 900, destWatts: 190 });
  t.is(typeof explained.actual?.['predictedDestWatts'], 'number');
  t.is(leader.vms().find((v) => v.uuid === VM)?.host, 'h2');
});

test('the source refusing the command fails the migration and the host gets the planner answer', async (t) => {
  const { leader, hub } = await startTestLeader(t, await leaderConfig(t, { cluster: { budgetWatts: 2000 } }));
  const src = migratingHost(t, hub, 'h1', [{ uuid: VM, cpuUtil: 0.5 }], 'refuse');
  const dst = migratingHost(t, hub, 'h2', []);
  await registered(src);
  await registered(dst);
  await waitFor('the VM listed', () => leader.vms().some((v) => v.uuid === VM));
  await src.link.requestMigration(VM, 20, 'over budget');
  await waitFor('the migration failed', () => leader.migrations({ limit: 5 })[0]?.state === 'failed');
  t.regex(leader.migrations({ limit: 5 })[0]!.error!, /VM is paused/);
  const d = leader.decisions({ limit: 20 }).find((x) => x.kind === 'migrate-vm')!;
  t.is(d.outcome, 'failed');
  // The failed move counts for the VM's cooldown: a new request is turned down with the reason.
  const err = await t.throwsAsync(src.link.requestMigration(VM, 20, 'again'));
  t.regex(err!.message, /cooldown|may not move/);
});

test('a migration with no status for the timeout is failed; a status from the wrong host is bad input', async (t) => {
  const { leader, src, dst } = await twoHosts(t, { failure: { hostTimeoutMs: 5000, migrationTimeoutMs: 300 } });
  await src.link.requestMigration(VM, 20, 'over budget');
  await waitFor('the migrate command', () => src.orders.length === 1);
  const id = src.orders[0]!.migrationId;
  await dst.link.migrationStatus({ migrationId: id, vm: VM, to: 'h2', state: 'succeeded', elapsedMs: 1 });
  await waitFor('wrong source counted', () => leader.counters.badInput.get('wrong-source') === 1);
  await waitFor('timed out', () => leader.migrations({ limit: 5 })[0]?.state === 'failed', 5000);
  t.regex(leader.migrations({ limit: 5 })[0]!.error!, /no migration status/);
});

test('a host without a migration URI takes no migrated VM: the request is turned down with the reason', async (t) => {
  const { leader, hub } = await startTestLeader(t, await leaderConfig(t, { cluster: { budgetWatts: 2000 } }));
  const src = migratingHost(t, hub, 'h1', [{ uuid: VM, cpuUtil: 0.5 }]);
  const dst = startTestHost(t, hub, 'h2', { reg: { migrationUri: undefined } });
  await registered(src);
  await registered(dst);
  await waitFor('the VM listed', () => leader.vms().some((v) => v.uuid === VM));
  const err = await t.throwsAsync(src.link.requestMigration(VM, 20, 'over budget'));
  t.regex(err!.message, /no destination/);
  t.is(src.orders.length, 0);
});

test('draining a host moves its VMs away; undrain brings it back; dry runs change nothing', async (t) => {
  const { leader, src } = await twoHosts(t);
  const dry = await leader.drain('h1', { dryRun: true });
  t.true(dry.done && dry.dryRun);
  t.is(leader.hosts().find((h) => h.id === 'h1')?.state, 'on');
  const plan = await leader.migrate(VM, 'h2', { dryRun: true });
  t.true(plan.done);
  t.is(plan.decisions[0]?.outcome, 'dry-run');
  t.is(src.orders.length, 0);
  const drained = await leader.drain('h1', { dryRun: false });
  t.true(drained.done, drained.reason);
  t.is(leader.hosts().find((h) => h.id === 'h1')?.state, 'draining');
  await waitFor('the drain migration', () => src.orders.length === 1);
  t.like(src.orders[0], { vm: VM, to: 'h2' });
  t.is(leader.decisions({ limit: 20 }).find((d) => d.kind === 'migrate-vm')?.reason.code, 'drain');
  t.false((await leader.drain('h1', { dryRun: false })).done, 'a draining host cannot be drained again');
  t.true((await leader.undrain('h1', { dryRun: false })).done);
  t.is(leader.hosts().find((h) => h.id === 'h1')?.state, 'on');
});

test('an operator migration to a named host is journaled and ordered; to an unknown host it is refused', async (t) => {
  const { leader, src } = await twoHosts(t);
  t.false((await leader.migrate(VM, 'h9', { dryRun: false })).done);
  t.false((await leader.migrate('not-a-uuid', undefined, { dryRun: false })).done);
  const ans = await leader.migrate(VM, 'h2', { dryRun: false });
  t.true(ans.done, ans.reason);
  t.is(ans.decisions[0]?.reason.code, 'operator');
  await waitFor('the order', () => src.orders.length === 1);
  t.false((await leader.migrate(VM, 'h2', { dryRun: false })).done, 'already migrating');
});

test('requests from several hosts at once are all planned (they share the passes) and each gets its command', async (t) => {
  const { leader, hub } = await startTestLeader(t, await leaderConfig(t, { cluster: { budgetWatts: 3000 } }));
  const a = migratingHost(t, hub, 'h1', [{ uuid: uuidOf(1), cpuUtil: 0.5 }]);
  const b = migratingHost(t, hub, 'h2', [{ uuid: uuidOf(2), cpuUtil: 0.5 }]);
  const c = migratingHost(t, hub, 'h3', []);
  for (const h of [a, b, c]) await registered(h);
  await waitFor('both VMs listed', () => leader.vms().length === 2);
  await splitCovers(leader, 3);
  await Promise.all([a.link.requestMigration(uuidOf(1), 20, 'over budget'), b.link.requestMigration(uuidOf(2), 20, 'over budget')]);
  await waitFor('both commands', () => a.orders.length === 1 && b.orders.length === 1);
  t.is(leader.status().migrationsInFlight, 2);
  t.is(leader.decisions({ limit: 50 }).filter((d) => d.kind === 'migrate-vm').length, 2);
});
