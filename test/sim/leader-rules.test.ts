// The leader rules the simulator brought in (src/domain/leader): shedding hosts when the budget
// cannot cover every host's demand, powering a host on only for want of a destination, and a
// caller's per-VM host eligibility (ClusterIndex.eligible).
import test from 'ava';
import type { LeaderDecision } from '../../src/domain/cluster.js';
import { budgetSplitDefaults, consumersToShed, type BudgetConsumer } from '../../src/domain/leader/budget-split.js';
import { buildIndex } from '../../src/domain/leader/cluster-index.js';
import { migrationDefaults, planMigrations } from '../../src/domain/leader/migration.js';
import { placeVm, placementDefaults } from '../../src/domain/leader/placement.js';
import { MigrationLedger } from '../../src/domain/leader/stability.js';
import { host, state, vm } from '../leader/fixtures.js';

const c = (id: string, demandWatts: number, floorWatts = 90, capWatts = 135): BudgetConsumer => ({ id, floorWatts, capWatts, demandWatts });
const lighter = (a: BudgetConsumer, b: BudgetConsumer): number => a.demandWatts - b.demandWatts;
const noMargin = { ...budgetSplitDefaults, marginFraction: 0, marginWatts: 0 };

const SHED_CASES: readonly [string, number, BudgetConsumer[], string[]][] = [
  ['a total that covers every target sheds nothing', 400, [c('a', 100), c('b', 120), c('c', 130)], []],
  ['a total short by less than one idle power sheds the lightest host', 330, [c('a', 100), c('b', 120), c('c', 130)], ['a']],
  ['a total short by more than one idle power sheds the lightest hosts in order', 200, [c('c', 130), c('a', 100), c('b', 120)], ['a', 'b']],
  ['consumers with no floor (hosts off) are never shed', 200, [c('off', 0, 0, 0), c('a', 100), c('b', 120)], ['a']],
];

for (const [title, total, consumers, expected] of SHED_CASES) {
  test(`consumersToShed: ${title}`, (t) => {
    t.deepEqual(consumersToShed(total, consumers, noMargin, lighter), expected);
  });
}

test('consumersToShed leaves a set that holds the whole load within the total', (t) => {
  const consumers = Array.from({ length: 40 }, (_, i) => c(`h${i}`, 90 + (i * 7) % 45));
  for (const total of [1000, 2000, 3000, 4000, 5000]) {
    const shed = new Set(consumersToShed(total, consumers, noMargin, lighter));
    const kept = consumers.filter((x) => !shed.has(x.id));
    const moved = consumers.filter((x) => shed.has(x.id)).reduce((s, x) => s + x.demandWatts - x.floorWatts, 0);
    const need = kept.reduce((s, x) => s + x.demandWatts, 0) + moved;
    t.true(need <= total || kept.length === 0, `total ${total}: need ${need}`);
  }
});

test('consumersToShed counts an empty host\'s margin as saved: many idle hosts do not push loaded ones out', (t) => {
  const p = budgetSplitDefaults;
  const consumers = [...Array.from({ length: 50 }, (_, i) => c(`idle${i}`, 90)), c('busy1', 130), c('busy2', 125)];
  const shed = consumersToShed(300, consumers, p, lighter);
  t.is(shed.length, 50);
  t.false(shed.includes('busy1') || shed.includes('busy2'));
});

const kinds = (ds: LeaderDecision[], kind: LeaderDecision['kind']): string[] => ds.filter((d) => d.kind === kind).map((d) => d.target);

test('an overloaded host whose VMs are all in cooldown does not power a host on nor stop consolidation', (t) => {
  const s = state(
    [host('hot'), host('light'), host('d1'), host('d2'), host('d3'), host('off', { state: 'off' })],
    [
      vm('a', 'hot', { vcpus: 5, cpuUtil: 1, cpuPeak: 1 }), vm('b', 'hot', { vcpus: 4, cpuUtil: 0.95, cpuPeak: 1 }), vm('l', 'light', { vcpus: 1, cpuUtil: 0.2, cpuPeak: 0.2 }),
      vm('x1', 'd1', { vcpus: 4, cpuUtil: 0.5, cpuPeak: 0.5 }), vm('x2', 'd2', { vcpus: 4, cpuUtil: 0.5, cpuPeak: 0.5 }), vm('x3', 'd3', { vcpus: 4, cpuUtil: 0.5, cpuPeak: 0.5 }),
    ],
  );
  const ledger = new MigrationLedger();
  for (const uuid of ['a', 'b']) {
    ledger.started(uuid, 'elsewhere', 'hot', s.at - 60_000, migrationDefaults.stability);
    ledger.finished(uuid, true, s.at - 30_000);
  }
  const plan = planMigrations(s, [], ledger, migrationDefaults);
  t.is(plan.stats.unresolvedHosts, 1);
  t.is(plan.stats.noDestinationHosts, 0);
  t.deepEqual(kinds(plan.decisions, 'power-on-host'), []);
  const moved = plan.decisions.filter((d) => d.kind === 'migrate-vm');
  t.deepEqual(moved.map((d) => `${d.target}:${d.from}:${d.reason.code}`), ['l:light:consolidation']);
});

test('an overloaded host with a free VM and no destination powers a host on', (t) => {
  const s = state(
    [host('hot'), host('busy'), host('off', { state: 'off' })],
    [vm('a', 'hot', { vcpus: 5, cpuUtil: 1, cpuPeak: 1 }), vm('b', 'hot', { vcpus: 4, cpuUtil: 0.95, cpuPeak: 1 }), vm('c', 'busy', { vcpus: 6, cpuUtil: 0.9, cpuPeak: 0.9 })],
  );
  const plan = planMigrations(s, [], new MigrationLedger(), migrationDefaults);
  t.is(plan.stats.noDestinationHosts, 1);
  t.deepEqual(kinds(plan.decisions, 'power-on-host'), ['off']);
});

test('placement skips the hosts the eligibility predicate refuses for the VM, and counts them as excluded', (t) => {
  const s = state([host('slow'), host('fast')], []);
  const eligible = (v: { uuid: string }, h: { id: string }): boolean => !(v.uuid === 'big' && h.id === 'slow');
  const index = buildIndex(s, eligible);
  const big = placeVm(index, vm('big', ''), placementDefaults);
  t.true(big.ok && big.chosen.load.host.id === 'fast');
  t.is(big.rejections.excluded, 1);
  const small = placeVm(index, vm('small', ''), placementDefaults);
  t.true(small.ok);
  t.is(small.rejections.excluded, 0);
});

test('an overloaded host relieves itself only onto hosts eligible for the VM it moves', (t) => {
  const s = state(
    [host('hot'), host('slow'), host('fast')],
    [vm('a', 'hot', { vcpus: 5, cpuUtil: 1, cpuPeak: 1 }), vm('b', 'hot', { vcpus: 4, cpuUtil: 0.95, cpuPeak: 1 })],
  );
  const plan = planMigrations(s, [], new MigrationLedger(), migrationDefaults, (_v, h) => h.id !== 'slow');
  const to = plan.decisions.filter((d) => d.kind === 'migrate-vm').map((d) => d.to);
  t.true(to.length > 0);
  t.false(to.includes('slow'));
});
