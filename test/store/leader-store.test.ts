import test from 'ava';
import { join } from 'node:path';
import { LeaderStore } from '../../src/adapters/store/leader-store.js';
import { openDatabase, schemaVersion, SCHEMA_VERSION } from '../../src/adapters/store/sqlite.js';
import type { HostRegistration, LeaderDecision } from '../../src/domain/cluster.js';
import { clusterHostOf } from '../../src/domain/leader/registration.js';
import { tempDir } from '../support/proc.js';

const reg = (id: string): HostRegistration => ({ id, cpus: 16, memoryMiB: 65_536, powerTableWatts: [93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135], capWatts: 135, trust: 'trusted' });
const migrate = (vm: string): LeaderDecision => ({
  kind: 'migrate-vm', target: vm, value: 2048, from: 'h1', to: 'h2', policy: 'leader-migration',
  reason: { code: 'overload', text: 'h1 over budget' }, predicted: { watts: 118, deltaWatts: 6, destUtil: 0.55, sourceWatts: 120 }, inputs: { costMiB: 2048 },
});

async function open(t: Parameters<typeof tempDir>[0]): Promise<{ path: string; store: LeaderStore; close: () => void }> {
  const path = join(await tempDir(t), 'leader.db');
  const db = openDatabase(path);
  t?.teardown(() => db.open && db.close());
  return { path, store: new LeaderStore(db), close: () => db.close() };
}

test('hosts register, update their state and budget, and survive a restart of the leader', async (t) => {
  const { path, store, close } = await open(t);
  store.upsertHost(reg('h1'), 1000, { budgetWatts: 120 });
  store.upsertHost(reg('h2'), 1000, { budgetWatts: 120, state: 'off' });
  store.updateHost('h1', 5000, { state: 'draining', budgetWatts: 110 });
  store.upsertHost({ ...reg('h1'), cpus: 32 }, 6000, { budgetWatts: 999 });
  close();
  const again = new LeaderStore(openDatabase(path));
  const h1 = again.host('h1');
  t.like(h1, { state: 'draining', stateSince: 5000, budgetWatts: 110, registeredAt: 1000, updatedAt: 6000 });
  t.is(h1?.registration.cpus, 32);
  t.deepEqual(again.hosts().map((h) => h.registration.id), ['h1', 'h2']);
  const ch = clusterHostOf(h1!, 101);
  t.is(ch.attrs.powerModel.watts(0.5), 116);
  t.is(ch.measuredWatts, 101);
  t.false(again.updateHost('nope', 1, { state: 'on' }));
});

test('budgets are set on the hosts and kept as history', async (t) => {
  const { store } = await open(t);
  store.upsertHost(reg('h1'), 0, { budgetWatts: 120 });
  store.setBudgets(1000, new Map([['h1', 125]]), 'periodic split');
  store.setBudgets(2000, new Map([['h1', 131.5]]), 'demand shift');
  t.is(store.host('h1')?.budgetWatts, 131.5);
  t.deepEqual(store.budgetHistory('h1'), [{ at: 1000, watts: 125, reason: 'periodic split' }, { at: 2000, watts: 131.5, reason: 'demand shift' }]);
});

test('a leader decision is stored with its inputs, reason, prediction, fencing token, then its outcome', async (t) => {
  const { store } = await open(t);
  const id = store.recordDecision(1000, migrate('vm-1'), '17');
  t.deepEqual(store.decision(id), { id, at: 1000, decision: migrate('vm-1'), fencingToken: '17' });
  store.recordOutcome(id, 'applied', { destWatts: 121, sourceWatts: 117 }, 61_000);
  t.like(store.decision(id), { outcome: 'applied', actual: { destWatts: 121, sourceWatts: 117 }, actualAt: 61_000 });
  store.recordDecision(2000, migrate('vm-2'));
  t.deepEqual(store.decisions(10, 'vm-2').map((d) => d.decision.target), ['vm-2']);
  t.deepEqual(store.decisions(10).map((d) => d.decision.target), ['vm-1', 'vm-2']);
});

test('migrations are tracked from start to end; a finished one cannot be finished again', async (t) => {
  const { store } = await open(t);
  const id = store.startMigration({ vm: 'vm-1', from: 'h1', to: 'h2', memoryMiB: 2048, at: 1000 });
  t.deepEqual(store.migrations({ status: 'running' }).map((m) => m.vm), ['vm-1']);
  t.true(store.finishMigration(id, 'failed', 4000, 'MIGRATION_FAILED: destination refused'));
  t.false(store.finishMigration(id, 'succeeded', 5000));
  t.like(store.migrations({ vm: 'vm-1' })[0], { status: 'failed', endedAt: 4000, error: 'MIGRATION_FAILED: destination refused' });
  t.deepEqual(store.migrations({ status: 'running' }), []);
});

test('retention bounds decisions, budgets and finished migrations', async (t) => {
  const path = join(await tempDir(t), 'leader.db');
  const db = openDatabase(path);
  t.teardown(() => db.close());
  const store = new LeaderStore(db, { maxRows: 20, retentionMs: 100_000, pruneEvery: 5 });
  for (let i = 0; i < 100; i++) store.recordDecision(i, migrate(`vm-${i}`));
  t.true(store.decisions(1000).length <= 25);
  const old = store.startMigration({ vm: 'old', from: 'a', to: 'b', memoryMiB: 1, at: 0 });
  store.finishMigration(old, 'succeeded', 10);
  store.startMigration({ vm: 'running', from: 'a', to: 'b', memoryMiB: 1, at: 0 });
  store.recordDecision(500_000, migrate('new'));
  store.prune(500_000);
  t.deepEqual(store.decisions(1000).map((d) => d.decision.target), ['new']);
  t.deepEqual(store.migrations().map((m) => m.vm), ['running']);
});

test('the cluster budget set at runtime is stored in its own table (schema step 2) and survives a restart', async (t) => {
  const { path, store, close } = await open(t);
  t.is(store.clusterBudget(), undefined);
  store.setClusterBudget(12_000, 1000);
  store.setClusterBudget(9_500, 2000);
  close();
  const db = openDatabase(path);
  t.teardown(() => db.open && db.close());
  t.deepEqual(new LeaderStore(db).clusterBudget(), { watts: 9_500, at: 2000 });
});

test('a database the leader made at schema version 1 with its own cluster budget table migrates and keeps the budget', async (t) => {
  const path = join(await tempDir(t), 'leader.db');
  const v1 = openDatabase(path);
  v1.exec('CREATE TABLE IF NOT EXISTS leader_cluster_budget (k INTEGER PRIMARY KEY CHECK (k = 1), watts REAL NOT NULL, at INTEGER NOT NULL)');
  v1.prepare('INSERT INTO leader_cluster_budget (k, watts, at) VALUES (1, ?, ?)').run(7_000, 500);
  v1.pragma('user_version = 1');
  v1.close();
  const db = openDatabase(path);
  t.teardown(() => db.open && db.close());
  t.is(schemaVersion(db), SCHEMA_VERSION);
  t.deepEqual(new LeaderStore(db).clusterBudget(), { watts: 7_000, at: 500 });
});

test('automatic pruning keeps exactly the newest maxRows decisions and budgets, and drops those past the retention age', async (t) => {
  const db = openDatabase(join(await tempDir(t), 'leader.db'));
  t.teardown(() => db.close());
  const bounded = new LeaderStore(db, { maxRows: 30, retentionMs: 1_000_000, pruneEvery: 7 });
  bounded.upsertHost(reg('h1'), 0, { budgetWatts: 120 });
  for (let i = 1; i <= 200; i++) {
    bounded.recordDecision(i, migrate(`vm-${i}`));
    bounded.setBudgets(i, new Map([['h1', 100 + i]]), 'split');
  }
  const kept = bounded.decisions(1000).map((d) => d.at);
  t.true(kept.length >= 30 && kept.length < 30 + 7, `${kept.length} decisions kept`);
  t.is(kept.at(-1), 200);
  t.deepEqual(kept, [...kept].sort((a, b) => a - b));
  const budgets = bounded.budgetHistory('h1', 1000);
  t.true(budgets.length >= 30 && budgets.length < 30 + 7, `${budgets.length} budgets kept`);
  // Time passes: everything older than the retention window goes at the next automatic prune.
  for (let i = 0; i < 7; i++) bounded.recordDecision(5_000_000 + i, migrate(`late-${i}`));
  t.true(bounded.decisions(1000).every((d) => d.at >= 5_000_000 - 1_000_000));
});
