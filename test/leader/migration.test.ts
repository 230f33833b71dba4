import test from 'ava';
import fc from 'fast-check';
import type { ClusterState, LeaderDecision } from '../../src/domain/cluster.js';
import { buildIndex, moveVm, predictLoadWatts } from '../../src/domain/leader/cluster-index.js';
import { migrationDefaults, migrationParams, planMigrations, type MigrationParams } from '../../src/domain/leader/migration.js';
import { MigrationLedger } from '../../src/domain/leader/stability.js';
import { attrs, host, state, vm } from './fixtures.js';

const noCons: MigrationParams = { ...migrationDefaults, consolidation: { ...migrationDefaults.consolidation, enabled: false } };
const moves = (ds: LeaderDecision[]): string[] => ds.filter((d) => d.kind === 'migrate-vm').map((d) => `${d.target}:${d.from}->${d.to}`);
const kinds = (ds: LeaderDecision[], kind: LeaderDecision['kind']): string[] => ds.filter((d) => d.kind === kind).map((d) => d.target);

/** src is over its 130 W budget (measured 140 W); d1 is half full, d2 nearly at its CPU threshold. */
function overloaded(): ClusterState {
  return state(
    [host('src', { measuredWatts: 140 }), host('d1'), host('d2')],
    [
      vm('big', 'src', { vcpus: 4, memoryMiB: 8192, cpuUtil: 0.9, cpuPeak: 0.9 }),
      vm('small', 'src', { vcpus: 4, memoryMiB: 1024, cpuUtil: 0.9, cpuPeak: 0.9 }),
      vm('d1a', 'd1', { vcpus: 2, cpuUtil: 0.5, cpuPeak: 0.5 }),
      vm('d2a', 'd2', { vcpus: 6, cpuUtil: 0.9, cpuPeak: 0.9 }),
    ],
  );
}

test('the audit moves the VM that brings the host under budget with the least memory copied', (t) => {
  const plan = planMigrations(overloaded(), [], new MigrationLedger(), noCons);
  t.deepEqual(moves(plan.decisions), ['small:src->d1']);
  const d = plan.decisions[0] as LeaderDecision;
  t.is(d.reason.code, 'overload');
  t.true((d.predicted.watts as number) <= 130 - noCons.placement.budgetMarginWatts);
  t.true((d.predicted.destUtil as number) <= noCons.placement.cpuThreshold);
  t.is(plan.stats.overloadedHosts, 1);
});

test('a host request moves the VM it asked for, even when the leader sees no overload', (t) => {
  const s = state([host('src'), host('d1')], [vm('a', 'src'), vm('b', 'src')]);
  const plan = planMigrations(s, [{ host: 'src', vm: 'b', shedWatts: 5 }], new MigrationLedger(), noCons);
  t.deepEqual(moves(plan.decisions), ['b:src->d1']);
  t.is(plan.decisions[0]?.reason.code, 'host-request');
});

test('a request for a VM that is not on that host is ignored and counted', (t) => {
  const s = state([host('src'), host('d1')], [vm('a', 'src')]);
  const plan = planMigrations(s, [{ host: 'src', vm: 'zzz', shedWatts: 5 }], new MigrationLedger(), noCons);
  t.deepEqual(plan.decisions, []);
  t.is(plan.stats.requestsIgnored, 1);
});

test('a VM in its cooldown stays; the next cheapest VM goes instead', (t) => {
  const ledger = new MigrationLedger();
  const s = overloaded();
  ledger.started('small', 'x', 'src', s.at - 60_000, noCons.stability);
  ledger.finished('small', true, s.at - 50_000);
  const plan = planMigrations(s, [], ledger, noCons);
  t.deepEqual(moves(plan.decisions), ['big:src->d1']);
});

test('cooldown backs off exponentially with each move and resets after a quiet period', (t) => {
  const ledger = new MigrationLedger();
  const p = noCons.stability;
  ledger.started('v', 'a', 'b', 0, p);
  ledger.finished('v', true, 1000);
  t.is(ledger.cooldownUntil('v', p), p.baseCooldownMs);
  ledger.started('v', 'b', 'c', p.baseCooldownMs, p);
  ledger.finished('v', false, p.baseCooldownMs + 1000);
  t.is(ledger.cooldownUntil('v', p), p.baseCooldownMs + 2 * p.baseCooldownMs);
  const later = p.baseCooldownMs + p.backoffResetMs;
  ledger.started('v', 'b', 'c', later, p);
  t.is(ledger.cooldownUntil('v', p), later + p.baseCooldownMs);
});

test('a VM is not sent back to a host it left within the no-return window', (t) => {
  const ledger = new MigrationLedger();
  const s = overloaded();
  ledger.started('small', 'd1', 'src', s.at - 2 * noCons.stability.baseCooldownMs, noCons.stability);
  ledger.finished('small', true, s.at - 2 * noCons.stability.baseCooldownMs + 1000);
  const plan = planMigrations(s, [], ledger, noCons);
  t.false(moves(plan.decisions).includes('small:src->d1'));
});

test('concurrent migrations are limited per cluster', (t) => {
  const s = state(
    [host('s1', { measuredWatts: 140 }), host('s2', { measuredWatts: 140 }), host('d1'), host('d2')],
    [vm('a', 's1', { vcpus: 4, cpuUtil: 0.95 }), vm('b', 's2', { vcpus: 4, cpuUtil: 0.95 })],
  );
  const p = { ...noCons, stability: { ...noCons.stability, maxPerCluster: 1 } };
  t.is(moves(planMigrations(s, [], new MigrationLedger(), p).decisions).length, 1);
  t.is(moves(planMigrations(s, [], new MigrationLedger(), noCons).decisions).length, 2);
});

test('concurrent migrations are limited per host (in flight counts)', (t) => {
  const ledger = new MigrationLedger();
  const s = overloaded();
  ledger.started('other1', 'src', 'zz', s.at, noCons.stability);
  ledger.started('other2', 'src', 'zz', s.at, noCons.stability);
  t.deepEqual(planMigrations(s, [], ledger, noCons).decisions, []);
});

test('no destination within budget and CPU threshold: no move, and the host counts as unresolved', (t) => {
  const s = state([host('src', { measuredWatts: 140 }), host('d', { budgetWatts: 100 })], [vm('a', 'src', { vcpus: 8, cpuUtil: 0.95 })]);
  const plan = planMigrations(s, [], new MigrationLedger(), noCons);
  t.deepEqual(moves(plan.decisions), []);
  t.is(plan.stats.unresolvedHosts, 1);
});

test('consolidation empties the lightest host when the others can take its VMs, and powers off an empty host', (t) => {
  const s = state(
    [host('light'), host('medium'), host('idle'), host('spare1'), host('spare2')],
    [vm('l1', 'light', { vcpus: 1, cpuPeak: 0.5 }), vm('m1', 'medium', { vcpus: 4, cpuPeak: 0.5 }), vm('s1', 'spare1', { vcpus: 4, cpuPeak: 0.5 }), vm('s2', 'spare2', { vcpus: 4, cpuPeak: 0.5 })],
  );
  const plan = planMigrations(s, [], new MigrationLedger(), migrationDefaults);
  t.deepEqual(kinds(plan.decisions, 'power-off-host'), ['idle']);
  const m = plan.decisions.filter((d) => d.kind === 'migrate-vm');
  t.is(m[0]?.target, 'l1');
  t.is(m[0]?.reason.code, 'consolidation');
});

test('a host powered on recently is not emptied (minimum on time)', (t) => {
  const s = state([host('light', { stateSince: 10 * 3_600_000 - 60_000 }), host('medium')], [vm('l1', 'light', { vcpus: 1 }), vm('m1', 'medium', { vcpus: 8 })]);
  const plan = planMigrations(s, [], new MigrationLedger(), migrationDefaults);
  t.deepEqual(moves(plan.decisions), []);
});

test('hosts are powered on ahead of rising demand, the most efficient first', (t) => {
  const s = state(
    [host('on1'), host('offBig', { state: 'off', attrs: attrs({ cpus: 16 }) }), host('offSmall', { state: 'off' })],
    [vm('a', 'on1', { vcpus: 8, cpuUtil: 0.6, cpuPeak: 0.75 })],
  );
  const plan = planMigrations(s, [], new MigrationLedger(), migrationDefaults);
  t.deepEqual(kinds(plan.decisions, 'power-on-host'), ['offBig']);
  t.is(plan.decisions[0]?.reason.code, 'forecast-demand');
});

test('the default parameters pass their schema, and thresholds without a gap are refused', (t) => {
  t.true(migrationParams.safeParse(migrationDefaults).success);
  t.false(migrationParams.safeParse({ ...migrationDefaults, overloadUtil: 0.8 }).success);
});

test('property: planned moves never push a destination over budget minus margin or the CPU threshold by prediction, and never power off a host with VMs', (t) => {
  const hostArb = fc.record({ cpus: fc.integer({ min: 2, max: 32 }), budget: fc.double({ min: 95, max: 140, noNaN: true }), measured: fc.option(fc.double({ min: 80, max: 160, noNaN: true }), { nil: undefined }), off: fc.boolean() });
  const vmArb = fc.record({ vcpus: fc.integer({ min: 1, max: 8 }), mem: fc.integer({ min: 256, max: 8192 }), util: fc.double({ min: 0, max: 1, noNaN: true }), peak: fc.double({ min: 0, max: 1, noNaN: true }), k: fc.nat() });
  fc.assert(fc.property(fc.array(hostArb, { minLength: 2, maxLength: 15 }), fc.array(vmArb, { maxLength: 60 }), (hs, vs) => {
    const hosts = hs.map((h, i) => host(`h${i}`, { attrs: attrs({ cpus: h.cpus }), budgetWatts: h.budget, measuredWatts: h.measured, state: h.off && i > 0 ? 'off' : 'on' }));
    const on = hosts.filter((h) => h.state === 'on');
    const vms = vs.map((v, i) => vm(`v${i}`, (on[v.k % on.length] as { id: string }).id, { vcpus: v.vcpus, memoryMiB: v.mem, cpuUtil: v.util, cpuPeak: v.peak }));
    const s = state(hosts, vms);
    const plan = planMigrations(s, [], new MigrationLedger(), migrationDefaults);
    const index = buildIndex(s);
    const p = migrationDefaults.placement;
    for (const d of plan.decisions.filter((x) => x.kind === 'migrate-vm')) {
      moveVm(index, index.byHost.get(d.from as string)!, index.byHost.get(d.to as string)!, d.target);
    }
    const dests = new Set(plan.decisions.filter((x) => x.kind === 'migrate-vm').map((d) => d.to as string));
    // A host is powered off only when it holds no VM, and never one that receives a VM.
    for (const d of plan.decisions.filter((x) => x.kind === 'power-off-host')) {
      if (vms.some((v) => v.host === d.target) || dests.has(d.target)) return false;
    }
    for (const id of dests) {
      const l = index.byHost.get(id)!;
      if (l.peakCores / l.host.attrs.cpus > p.cpuThreshold + 1e-9) return false;
      if (predictLoadWatts(l, l.peakCores) > l.host.budgetWatts - p.budgetMarginWatts + 1e-9) return false;
    }
    return true;
  }), { numRuns: 300 });
  t.pass();
});

test('a host that would stay over budget even empty is not emptied: it is reported for a budget raise', (t) => {
  // Budget 95 W under a 93.7 W idle host reading 120 W: 26 W the model cannot explain stay after any move.
  const s = state([host('src', { budgetWatts: 95, measuredWatts: 120 }), host('d1'), host('d2')], [vm('a', 'src'), vm('b', 'src'), vm('c', 'src')]);
  const plan = planMigrations(s, [], new MigrationLedger(), noCons);
  t.deepEqual(moves(plan.decisions), []);
  t.is(plan.stats.budgetUnreachableHosts, 1);
  t.is(plan.stats.overloadedHosts, 0);
});

test('a host powered off in a pass receives no VM in the same pass', (t) => {
  const s = state([host('h0'), host('h1'), host('h2')], [vm('a', 'h1', { vcpus: 1, cpuUtil: 0, cpuPeak: 0 })]);
  const plan = planMigrations(s, [], new MigrationLedger(), migrationDefaults);
  const off = new Set(kinds(plan.decisions, 'power-off-host'));
  t.true(off.size > 0);
  t.deepEqual(plan.decisions.filter((d) => d.kind === 'migrate-vm' && off.has(d.to as string)), []);
});

// The overload hold: src (8 CPUs, budget far above its draw) runs `cores` of CPU; d1 is empty.
function hot(cores: 'absorbed' | 'saturated' | 'short', at: number): ClusterState {
  const b = cores === 'saturated' ? 0.99 : 0.9;
  const vms = [vm('a', 'src', { vcpus: 4, cpuUtil: 0.99, cpuPeak: 0.99 }), vm('b', 'src', { vcpus: 4, cpuUtil: b, cpuPeak: b })];
  if (cores === 'short') vms.push(vm('c', 'src', { vcpus: 1, memoryMiB: 512, cpuUtil: 0.9, cpuPeak: 0.9 }));
  return state([host('src', { budgetWatts: 500 }), host('d1', { budgetWatts: 500 })], vms, at);
}

const hold = noCons.stability.overloadHoldMs;
const passes: { name: string; load: 'absorbed' | 'saturated' | 'short'; at: number[]; moved: boolean[] }[] = [
  { name: 'a host over the CPU threshold that still absorbs its load is relieved only once it stayed over for the hold', load: 'absorbed', at: [0, hold / 2, hold], moved: [false, false, true] },
  { name: 'a host short of CPU (use over its CPUs) is relieved at the first pass', load: 'short', at: [0], moved: [true] },
  { name: 'a saturated host (measured use at 99 % of its CPUs: it cannot show more) is relieved at the first pass', load: 'saturated', at: [0], moved: [true] },
];
for (const c of passes) {
  test(c.name, (t) => {
    t.true(hold > 0, 'the default hold is not zero');
    const ledger = new MigrationLedger();
    const t0 = 10 * 3_600_000;
    const got = c.at.map((dt) => planMigrations(hot(c.load, t0 + dt), [], ledger, noCons).decisions.some((d) => d.kind === 'migrate-vm' && d.from === 'src'));
    t.deepEqual(got, c.moved);
  });
}

test('an overload that breaks restarts the hold; the ledger remembers only hosts over at the last pass', (t) => {
  const ledger = new MigrationLedger();
  const t0 = 10 * 3_600_000;
  t.deepEqual(moves(planMigrations(hot('absorbed', t0), [], ledger, noCons).decisions), []);
  const calm = state([host('src', { budgetWatts: 500 }), host('d1', { budgetWatts: 500 })], [vm('a', 'src', { vcpus: 4, cpuUtil: 0.5, cpuPeak: 0.95 })], t0 + hold / 2);
  t.deepEqual(moves(planMigrations(calm, [], ledger, noCons).decisions), []);
  t.is(ledger.noteOverloaded([], t0 + hold / 2).size, 0);
  t.deepEqual(moves(planMigrations(hot('absorbed', t0 + hold), [], ledger, noCons).decisions), [], 'over again: the hold starts over');
  t.is(moves(planMigrations(hot('absorbed', t0 + 2 * hold), [], ledger, noCons).decisions).length, 1);
});

test('with overloadHoldMs 0 the audit relieves a host over the CPU threshold at once', (t) => {
  const p = { ...noCons, stability: { ...noCons.stability, overloadHoldMs: 0 } };
  t.is(moves(planMigrations(hot('absorbed', 0), [], new MigrationLedger(), p).decisions).length, 1);
});

// The consolidation state of the test above, with every VM's current use scaled by `use`.
function consolidable(use: number, at: number): ClusterState {
  const u = { cpuUtil: 0.5 * use, cpuPeak: 0.5 };
  return state(
    [host('light'), host('medium'), host('idle'), host('spare1'), host('spare2')],
    [vm('l1', 'light', { vcpus: 1, ...u }), vm('m1', 'medium', { vcpus: 4, ...u }), vm('s1', 'spare1', { vcpus: 4, ...u }), vm('s2', 'spare2', { vcpus: 4, ...u })],
    at,
  );
}

const trends: { name: string; use: number[]; empties: boolean }[] = [
  { name: 'consolidation empties no host while the cluster\'s demand rises over the trend window (empty hosts still power off)', use: [0.4, 0.6, 0.8, 1], empties: false },
  { name: 'consolidation empties a host while the cluster\'s demand falls', use: [1, 0.8, 0.6, 0.4], empties: true },
  { name: 'consolidation empties a host while the cluster\'s demand is flat', use: [0.7, 0.7, 0.7, 0.7], empties: true },
];
for (const c of trends) {
  test(c.name, (t) => {
    const ledger = new MigrationLedger();
    const t0 = 10 * 3_600_000;
    const last = c.use.map((use, i) => planMigrations(consolidable(use, t0 + i * 300_000), [], ledger, migrationDefaults)).at(-1) as ReturnType<typeof planMigrations>;
    t.is(last.decisions.some((d) => d.kind === 'migrate-vm' && d.reason.code === 'consolidation'), c.empties);
    t.deepEqual(kinds(last.decisions, 'power-off-host'), ['idle']);
  });
}

test('the ledger\'s demand trend is the least-squares slope in cores per hour over the window, and keeps only the window', (t) => {
  const ledger = new MigrationLedger();
  const hour = 3_600_000;
  t.is(ledger.demandTrend(0, 10, hour), 0, 'one point: no trend');
  t.is(ledger.demandTrend(hour / 4, 12, hour), 0, 'two points: no trend');
  t.is(Math.round(ledger.demandTrend(hour / 2, 14, hour)), 8);
  // Two hours later the old points are gone: a flat hour reads flat.
  for (let i = 0; i <= 4; i++) ledger.demandTrend(2 * hour + (i * hour) / 4, 20, hour);
  t.is(ledger.demandTrend(3 * hour, 20, hour), 0);
});
