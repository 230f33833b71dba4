import test from 'ava';
import { z } from 'zod';
import { leaderPolicies, migrationPolicy, budgetPolicy } from '../../src/domain/leader/index.js';
import { demandShifted } from '../../src/domain/leader/budget-split.js';
import { buildIndex } from '../../src/domain/leader/cluster-index.js';
import type { ClusterState } from '../../src/domain/cluster.js';
import { syntheticCluster } from '../../bench/lib/leader-synth.js';

for (const b of leaderPolicies()) {
  test(`${b.name}: its defaults pass its schema and the schema exports as JSON Schema`, (t) => {
    t.true(b.schema.safeParse(b.defaults).success);
    t.is((z.toJSONSchema(b.schema) as { type?: string }).type, 'object');
  });
}

test('the budget policy keeps its last split, so small shifts do not churn', (t) => {
  const p = budgetPolicy.create();
  const c = (d: number) => [{ id: 'a', floorWatts: 90, capWatts: 150, demandWatts: d }, { id: 'b', floorWatts: 90, capWatts: 150, demandWatts: 130 }];
  const first = p.split(250, c(110), budgetPolicy.defaults);
  t.deepEqual(p.split(250, c(111), budgetPolicy.defaults).changed, []);
  t.truthy(first.budgets.get('a'));
});

test('a demand shift past the threshold, or a host coming or going, asks for a new split', (t) => {
  const last = new Map([['a', 100], ['b', 120]]);
  const c = (a: number) => [{ id: 'a', floorWatts: 0, capWatts: 200, demandWatts: a }, { id: 'b', floorWatts: 0, capWatts: 200, demandWatts: 120 }];
  t.false(demandShifted(last, c(105), 10));
  t.true(demandShifted(last, c(115), 10));
  t.true(demandShifted(last, c(100).slice(0, 1), 10));
});

/** The state after the plan's moves completed, with the same utilisation. */
function applied(s: ClusterState, moves: { target: string; from?: string; to?: string }[], at: number): ClusterState {
  const to = new Map(moves.map((m) => [m.target, m.to as string]));
  return { at, hosts: s.hosts, vms: s.vms.map((v) => (to.has(v.uuid) ? { ...v, host: to.get(v.uuid) as string } : v)) };
}

test('stability: after a pass\'s moves complete, the next passes move none of those VMs and overload none of their destinations', (t) => {
  const policy = migrationPolicy.create();
  const p = migrationPolicy.defaults;
  let s = syntheticCluster(300, 10, 3);
  const first = policy.plan(s, [], p).decisions.filter((d) => d.kind === 'migrate-vm');
  t.true(first.length > 0);
  for (const d of first) policy.ledger.started(d.target, d.from as string, d.to as string, s.at, p.stability);
  for (const d of first) policy.ledger.finished(d.target, true, s.at + 10_000);
  s = applied(s, first, s.at + 300_000);
  const index = buildIndex(s);
  const dests = new Set(first.map((d) => d.to as string));
  for (const id of dests) {
    const l = index.byHost.get(id)!;
    t.true(l.nowCores <= p.overloadUtil * l.host.attrs.cpus, `${id} overloaded after the moves`);
  }
  const second = policy.plan(s, [], p).decisions.filter((d) => d.kind === 'migrate-vm');
  const moved = new Set(first.map((d) => d.target));
  t.deepEqual(second.filter((d) => moved.has(d.target)).map((d) => d.target), []);
  t.deepEqual(second.filter((d) => d.reason.code === 'overload' && dests.has(d.from as string)).map((d) => d.from), []);
});
