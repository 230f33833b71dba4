import test from 'ava';
import fc from 'fast-check';
import { SnapshotBuilder, type SlaReportInput } from '../../src/broker/snapshot-builder.js';
import { ManualClock } from '../../src/domain/clock.js';

function builder(clock = new ManualClock(1_000_000)) {
  const b = new SnapshotBuilder({
    host: 'h1', clock, periodMs: 1000, cpus: 8,
    frequency: { capKHz: 2_000_000, minKHz: 1_000_000, maxKHz: 3_000_000 },
    budget: { leaderTimeoutMs: 30_000, safeBudgetWatts: 150, configWatts: 180 },
    reports: { burst: 3, perSecond: 1, violationWindowMs: 60_000, maxViolationsCounted: 10 },
  });
  b.setVms([{ uuid: 'hostile', vcpus: 2, cpuUtil: 0.5 }, { uuid: 'honest', vcpus: 2, cpuUtil: 0.5 }]);
  return { b, clock };
}

test('snapshot: a guest flooding reports empties only its own bucket; the others are still heard', (t) => {
  const { b, clock } = builder();
  let accepted = 0;
  for (let i = 0; i < 10_000; i++) if (b.slaReport('hostile', { status: 'violated', slack: -1 }).accepted) accepted++;
  t.is(accepted, 3, 'burst only');
  t.true(b.slaReport('honest', { status: 'violated', slack: -0.1 }).accepted);
  clock.advance(1000);
  t.true(b.slaReport('hostile', { status: 'violated' }).accepted, 'refilled at perSecond');
  t.false(b.slaReport('hostile', { status: 'violated' }).accepted);
  const s = b.build();
  const hostile = s.vms.find((v) => v.uuid === 'hostile')!;
  t.true(hostile.sla.violations <= 10, 'bounded per-VM state');
  t.is(s.vms.find((v) => v.uuid === 'honest')!.sla.status, 'violated');
  t.like(b.counters, { accepted: 5, rate: 9998 });
});

test('snapshot: reports from VMs not in the inventory are dropped and counted, never stored', (t) => {
  const { b } = builder();
  for (let i = 0; i < 1000; i++) b.slaReport(`ghost-${i}`, { status: 'violated' });
  t.is(b.counters.unknownVm, 1000);
  t.is(b.build().vms.length, 2);
});

test('snapshot: garbage reports get a clear problem and are counted, never thrown', (t) => {
  const { b } = builder();
  const bad = [{ status: 'great' }, { status: 'ok', slack: Number.NaN }, { status: 'ok', slack: 5 }, null] as unknown as SlaReportInput[];
  const problems = bad.map((r) => { const v = b.slaReport('honest', r); return v.accepted ? '' : v.problem; });
  t.regex(problems[0]!, /status: expected "ok" or "violated"/);
  t.regex(problems[1]!, /slack: expected a number in \[-1, 1\]/);
  t.is(b.counters.invalid, 3, 'the fourth was over the rate');
});

test('snapshot: hostile report shapes never throw and never grow state (property)', (t) => {
  const { b, clock } = builder();
  fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('hostile', 'honest', 'ghost'), fc.anything()), { maxLength: 50 }), (reports) => {
    for (const [vm, r] of reports) {
      b.slaReport(vm, r as SlaReportInput);
      clock.advance(100);
    }
    const s = b.build();
    return s.vms.length === 2 && s.vms.every((v) => v.sla.violations <= 10 && ['ok', 'violated', 'unknown'].includes(v.sla.status) && Number.isFinite(v.sla.slack));
  }));
  t.pass();
});

test('snapshot: the budget follows the leader, then the last budget, then the safe budget', (t) => {
  const { b, clock } = builder();
  t.like(b.build().budget, { watts: 180, source: 'config' });
  b.setLeaderBudget(220);
  t.like(b.build().budget, { watts: 220, source: 'leader' });
  b.setLeaderConnected(false);
  clock.advance(29_000);
  t.like(b.build().budget, { watts: 220, source: 'last-known' });
  clock.advance(1000);
  t.like(b.build().budget, { watts: 150, source: 'safe' });
});

test('snapshot: power age is measured at build time; open migrations expire', (t) => {
  const clock = new ManualClock(0);
  const b = new SnapshotBuilder({
    host: 'h1', clock, periodMs: 1000, cpus: 4, migrationTimeoutMs: 10_000,
    frequency: { capKHz: 2_000_000, minKHz: 1_000_000, maxKHz: 3_000_000 },
    budget: { leaderTimeoutMs: 30_000, safeBudgetWatts: 150 },
  });
  b.setVms([{ uuid: 'a', vcpus: 4, cpuUtil: 0.5 }]);
  b.setPower({ watts: 170, timestamp: 0, source: 's', ageMs: 0, stale: false });
  b.migrationRequested('a');
  clock.advance(2500);
  const s = b.build();
  t.is(s.power?.ageMs, 2500);
  t.true(s.vms[0]!.migrationOpen);
  t.is(s.cpuUtil, 0.5, 'from the VMs when the host figure is missing');
  clock.advance(10_000);
  t.false(b.build().vms[0]!.migrationOpen);
});
