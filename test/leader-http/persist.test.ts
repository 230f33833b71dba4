// The cluster budget set at runtime (PUT /api/budgets) is stored with the change and outlives the
// leader: a leader started again on the same store splits the budget the operator set, not the
// configured one, even when the budget history was pruned meanwhile. A dry run stores nothing.
import test from 'ava';
import type { Registry } from 'prom-client';
import { LeaderStore, openDatabase } from '../../src/adapters/store/index.js';
import { startHttp } from '../../src/daemons/leader/http.js';
import { startLeader } from '../../src/daemons/leader/leader.js';
import { CLUSTER_BUDGET_KEY } from '../../src/daemons/leader/operations.js';
import type { LeaderConfig } from '../../src/daemons/leader/config.js';
import { leaderConfig, quiet } from '../leader-daemon/support.js';
import { call } from './support.js';

async function run(cfg: LeaderConfig) {
  const leader = await startLeader(cfg, quiet, {});
  const http = await startHttp(leader, { host: '127.0.0.1', port: 0, log: quiet, registry: leader.registry as Registry, dashboard: false });
  return { leader, http, stop: async () => { await http.close(); await leader.stop(); } };
}

test('the cluster budget set through the API is the budget of the next leader on the same store', async (t) => {
  const cfg = await leaderConfig(t);
  const first = await run(cfg);
  t.teardown(() => first.stop());
  t.is(first.leader.status().clusterBudgetWatts, 1000, 'the configured budget');
  t.like((await call(first.http.url, 'PUT', '/api/budgets', { watts: 640 })).body, { done: true, dryRun: false });
  t.like((await call(first.http.url, 'PUT', '/api/budgets', { watts: 300, dryRun: true })).body, { done: true, dryRun: true });
  await first.stop();
  const db = openDatabase(cfg.store.path);
  const history = new LeaderStore(db).budgetHistory(CLUSTER_BUDGET_KEY);
  t.deepEqual(history.map((h) => h.reason), ['cluster budget 1000 W -> 640 W (operator)'], 'the change is journaled, the dry run is not');
  db.exec('DELETE FROM budgets'); // what retention does to an old history
  db.close();

  const second = await run(cfg);
  t.teardown(() => second.stop());
  t.is(second.leader.status().clusterBudgetWatts, 640);
  t.is(second.leader.budgets().clusterWatts, 640);
});
