// The leader's HTTP API against a real leader core with two host daemons (real LeaderLink over
// unix sockets): reads, dry-run and real actions, 404s, the standby's 503 and /metrics.
import test from 'ava';
import type { ActionAnswer, BudgetView, DecisionView, HostView, LeaderStatus, MigrationView, PlaceAnswer, VmView } from '../../src/daemons/leader/api.js';
import { waitFor } from '../support/proc.js';
import { call, startCluster, uuidOf } from './support.js';

interface ErrorBody { error: { code: string; message: string; field?: string; leaderId?: string } }

const VMS = { h1: [{ uuid: uuidOf(1), cpuUtil: 0.6 }, { uuid: uuidOf(2), cpuUtil: 0.2 }], h2: [{ uuid: uuidOf(3), cpuUtil: 0.1 }] };

test('the read routes show the leader, its hosts, VMs, budgets and decisions', async (t) => {
  const c = await startCluster(t, { hosts: VMS });
  const status = await call<LeaderStatus>(c.url, 'GET', '/api/status');
  t.is(status.status, 200);
  t.like(status.body, { id: 'cl1', role: 'leader', hosts: { total: 2, up: 2, draining: 0, off: 0, lost: 0 }, vms: 3, clusterBudgetWatts: 1000 });
  t.true(status.body.token >= 1);

  const hosts = await call<HostView[]>(c.url, 'GET', '/api/hosts');
  t.deepEqual(hosts.body.map((h) => h.id).sort(), ['h1', 'h2']);
  const h1 = await call<HostView>(c.url, 'GET', '/api/hosts/h1');
  t.like(h1.body, { id: 'h1', liveness: 'up', state: 'on', cpus: 8, vms: 2, trust: 'trusted', measuredWatts: 150 });
  t.is(typeof h1.body.budgetWatts, 'number');

  const vms = await call<VmView[]>(c.url, 'GET', '/api/vms');
  t.deepEqual(vms.body.map((v) => `${v.host}:${v.uuid}`).sort(), [`h1:${uuidOf(1)}`, `h1:${uuidOf(2)}`, `h2:${uuidOf(3)}`]);
  t.like(vms.body.find((v) => v.uuid === uuidOf(1)), { sla: 'ok', vcpus: 2, memoryMiB: 1024 });

  await waitFor('budget split', async () => (await call<BudgetView>(c.url, 'GET', '/api/budgets')).body.lastSplitAt !== undefined);
  const budgets = await call<BudgetView>(c.url, 'GET', '/api/budgets');
  t.is(budgets.body.clusterWatts, 1000);
  t.deepEqual(budgets.body.hosts.map((h) => h.host).sort(), ['h1', 'h2']);

  const decisions = await call<DecisionView[]>(c.url, 'GET', '/api/decisions?limit=10');
  t.true(decisions.body.length > 0, 'the first split is journaled');
  const first = decisions.body[0] as DecisionView;
  t.like(first, { kind: 'set-host-budget' });
  const explained = await call<DecisionView>(c.url, 'GET', `/api/decisions/${first.id}`);
  t.deepEqual(explained.body, first);
  const older = await call<DecisionView[]>(c.url, 'GET', `/api/decisions?limit=10&before=${first.id}`);
  t.true(older.body.every((d) => d.id < first.id));
  t.deepEqual((await call<MigrationView[]>(c.url, 'GET', '/api/migrations')).body, []);
});

test('unknown hosts, VMs, decisions and routes answer 404 with a code and a message', async (t) => {
  const c = await startCluster(t, { hosts: { h1: VMS.h1 } });
  const cases: [string, string, unknown, RegExp][] = [
    ['GET', '/api/hosts/nope', undefined, /unknown host "nope"/],
    ['GET', '/api/decisions/999999', undefined, /unknown decision 999999/],
    ['POST', '/api/hosts/nope/drain', {}, /unknown host "nope"/],
    ['POST', `/api/vms/${uuidOf(77)}/migrate`, {}, /unknown VM/],
    ['POST', `/api/vms/${uuidOf(1)}/migrate`, { to: 'elsewhere' }, /unknown destination host "elsewhere"/],
    ['GET', '/api/nothing-here', undefined, /no route GET \/api\/nothing-here/],
  ];
  for (const [method, path, body, message] of cases) {
    const r = await call<ErrorBody>(c.url, method, path, body);
    t.is(r.status, 404, `${method} ${path}`);
    t.is(r.body.error.code, 'NOT_FOUND');
    t.regex(r.body.error.message, message);
  }
});

test('a dry-run budget change answers what would change and changes nothing; a real one re-splits', async (t) => {
  const c = await startCluster(t, { hosts: VMS });
  await waitFor('first split', () => c.leader.budgets().lastSplitAt !== undefined);
  const before = c.leader.budgets();
  const dry = await call<ActionAnswer>(c.url, 'PUT', '/api/budgets', { watts: 300, dryRun: true });
  t.is(dry.status, 200);
  t.like(dry.body, { done: true, dryRun: true });
  t.regex(dry.body.reason, /1000 W -> 300 W/);
  t.true(dry.body.decisions.length > 0);
  t.true(dry.body.decisions.every((d) => d.kind === 'set-host-budget'));
  t.is(c.leader.status().clusterBudgetWatts, 1000);
  t.deepEqual(c.leader.budgets().hosts.map((h) => h.budgetWatts), before.hosts.map((h) => h.budgetWatts));

  const real = await call<ActionAnswer>(c.url, 'PUT', '/api/budgets', { watts: 300 });
  t.like(real.body, { done: true, dryRun: false });
  t.is((await call<LeaderStatus>(c.url, 'GET', '/api/status')).body.clusterBudgetWatts, 300);
  const h1 = c.hosts.get('h1');
  await waitFor('the lowered budget reaches h1', () => h1 !== undefined && h1.state.budgetWatts > 0 && h1.state.budgetWatts <= 300);
});

test('place, migrate, drain, undrain and plan answer through the API', async (t) => {
  const c = await startCluster(t, { hosts: VMS });
  const place = await call<PlaceAnswer>(c.url, 'POST', '/api/place', { vcpus: 2, memoryMiB: 2048, slaClass: 'gold', dryRun: true });
  t.is(place.status, 200);
  t.like(place.body, { placed: true, dryRun: true });
  t.true(['h1', 'h2'].includes(place.body.host as string));

  const migrate = await call<ActionAnswer>(c.url, 'POST', `/api/vms/${uuidOf(1)}/migrate`, { to: 'h2', dryRun: true });
  t.is(migrate.status, 200);
  t.like(migrate.body, { done: true, dryRun: true });
  t.is(migrate.body.decisions[0]?.kind, 'migrate-vm');

  const drain = await call<ActionAnswer>(c.url, 'POST', '/api/hosts/h2/drain', { dryRun: true });
  t.like(drain.body, { dryRun: true });
  t.is(c.leader.hosts().find((h) => h.id === 'h2')?.state, 'on', 'a dry-run drain changes nothing');
  const realDrain = await call<ActionAnswer>(c.url, 'POST', '/api/hosts/h2/drain');
  t.is(realDrain.status, 200, 'no body means no options');
  t.true(realDrain.body.done, realDrain.body.reason);
  t.is((await call<HostView>(c.url, 'GET', '/api/hosts/h2')).body.state, 'draining');
  const undrain = await call<ActionAnswer>(c.url, 'POST', '/api/hosts/h2/undrain', {});
  t.true(undrain.body.done, undrain.body.reason);
  t.is((await call<HostView>(c.url, 'GET', '/api/hosts/h2')).body.state, 'on');

  const plan = await call<ActionAnswer>(c.url, 'POST', '/api/plan', { dryRun: true });
  t.is(plan.status, 200);
  t.like(plan.body, { dryRun: true });
  t.is(typeof plan.body.reason, 'string');
});

test('a migration no host can take is refused naming the filters that refused each host', async (t) => {
  const c = await startCluster(t, { hosts: { h1: [{ uuid: uuidOf(1), cpuUtil: 0.3, memoryKiB: 20 << 20 }], h2: [] } });
  const r = await call<ActionAnswer>(c.url, 'POST', `/api/vms/${uuidOf(1)}/migrate`, { to: 'h2' });
  t.is(r.status, 200);
  t.like(r.body, { done: false, dryRun: false });
  t.regex(r.body.reason, /no destination \(h2\) for \S+ passes the placement filters and the no-return rule \(hosts refused: excluded 1, memory 1\)/);
  t.is(c.hosts.get('h1')!.orders.length, 0);
});

test('a standby answers reads but refuses actions with 503 naming the leader', async (t) => {
  const c = await startCluster(t, { standbyOf: 'cl-other' });
  const status = await call<LeaderStatus>(c.url, 'GET', '/api/status');
  t.like(status.body, { role: 'standby', leaderId: 'cl-other' });
  const actions: [string, string, unknown][] = [
    ['PUT', '/api/budgets', { watts: 500 }],
    ['POST', '/api/place', { vcpus: 1, memoryMiB: 512 }],
    ['POST', '/api/plan', { dryRun: true }],
  ];
  for (const [method, path, body] of actions) {
    const r = await call<ErrorBody>(c.url, method, path, body);
    t.is(r.status, 503, path);
    t.like(r.body.error, { code: 'NOT_LEADER', leaderId: 'cl-other' });
    t.regex(r.body.error.message, /cl1 is standby, not the leader; the leader is cl-other/);
  }
  t.is(c.http.counters.rejected['/api/budgets not-leader'], 1);
});

test('/metrics serves the leader registry with the API counters', async (t) => {
  const c = await startCluster(t, { hosts: { h1: [] } });
  await call(c.url, 'PUT', '/api/budgets', { watts: 'lots' });
  const m = await call(c.url, 'GET', '/metrics');
  t.is(m.status, 200);
  t.regex(m.text, /vmanage_http_rejected_total\{route="\/api\/budgets",reason="invalid-body"\} 1/);
  t.regex(m.text, /vmanage_http_requests_total\{route="\/api\/budgets",method="PUT",status="400"\} 1/);
  t.regex(m.text, /vmanage_http_sse_clients 0/);
  t.regex(m.text, /^vmanage_leader_/m, 'the leader core metrics are there too');
});
