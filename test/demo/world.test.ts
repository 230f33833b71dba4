import test from 'ava';
import fc from 'fast-check';
import { ManualClock } from '../../src/domain/clock.js';
import { isVmanageError } from '../../src/domain/errors.js';
import { waterFill, World, type WorldHostSpec, type WorldVmSpec } from '../../src/demo/world.js';
import type { WorldEvent } from '../../src/protocol/sim.js';

const G4: Omit<WorldHostSpec, 'name'> = { cpus: 2, mipsPerCore: 1860, table: 'hp-proliant-ml110-g4', minKHz: 1_000_000, maxKHz: 1_860_000, memoryKiB: 4 << 20 };
const A = '00000000-0000-4000-8000-00000000000a';
const B = '00000000-0000-4000-8000-00000000000b';

function world(traceA: number[], traceB: number[] = [0.1]): { w: World; clock: ManualClock } {
  const clock = new ManualClock(1_000_000);
  const vms: WorldVmSpec[] = [
    { uuid: A, name: 'vm-a', host: 'h1', vcpus: 1, mips: 1500, memoryKiB: 1024 * 1024, trace: traceA },
    { uuid: B, name: 'vm-b', host: 'h2', vcpus: 1, mips: 1000, memoryKiB: 512 * 1024, trace: traceB },
  ];
  return { w: new World({ clock, hosts: [{ name: 'h1', ...G4 }, { name: 'h2', ...G4 }], vms, stepMs: 1000, bandwidthMiBps: 512 }), clock };
}

test('power follows the SPECpower table at the host load and full clock', (t) => {
  const { w } = world([0]);
  t.is(Math.round(w.now('h1').watts * 10) / 10, 86, 'idle host draws the 0 % point');
  const { w: busy } = world([1]);
  // 1500 of 3720 MIPS busy = 40.3 %: between the 40 % (99.5 W) and 50 % (102 W) points.
  const watts = busy.now('h1').watts;
  t.true(watts > 99.5 && watts < 102, `got ${watts}`);
});

test('a lower frequency cap lowers power and raises latency until the SLA breaks', (t) => {
  const { w } = world([0.8]);
  const full = w.now('h1');
  w.setCap('h1', 1_000_000);
  const capped = w.now('h1');
  t.true(capped.watts < full.watts, `${capped.watts} < ${full.watts}`);
  const lat = (s: typeof full): number => s.vms.get(A)?.latencyMs ?? NaN;
  t.true(lat(full) <= w.latency.targetMs, `at full clock ${lat(full)} ms`);
  t.true(lat(capped) > w.latency.targetMs, `capped ${lat(capped)} ms`);
});

test('CPU time advances by the share the VM got, and demand follows the trace step by step', (t) => {
  const { w, clock } = world([0.5, 1]);
  const t0 = w.stats('h1', A).cpuTimeNs;
  clock.advance(1000);
  const t1 = w.stats('h1', A).cpuTimeNs;
  // 750 MIPS of a 1860-MIPS core for 1 s.
  t.is(Math.round((t1 - t0) / 1e6), Math.round((750 / 1860) * 1000));
  clock.advance(1000);
  const t2 = w.stats('h1', A).cpuTimeNs;
  t.is(Math.round((t2 - t1) / 1e6), Math.round((1500 / 1860) * 1000));
});

test('caps outside the host limits are refused by name', (t) => {
  const { w } = world([0.1]);
  for (const kHz of [999_999, 1_860_001, 1.5]) {
    const err = t.throws(() => w.setCap('h1', kHz));
    t.true(isVmanageError(err) && err.code === 'OUT_OF_BOUNDS', String(err));
  }
  t.throws(() => w.setCap('nope', 1_000_000), { message: /no simulated host nope/ });
});

test('a migration starts the VM paused on the destination, takes memory / bandwidth, then moves it', async (t) => {
  const { w, clock } = world([0.3]);
  const events: WorldEvent[] = [];
  w.events.on('event', (e) => events.push(e));
  const done = w.migrate('h1', A, 'h2');
  t.deepEqual(w.vms('h2').map((v) => [v.name, v.state]).sort(), [['vm-a', 'paused'], ['vm-b', 'running']]);
  t.deepEqual(events.map((e) => [e.host, e.kind, e.reason]), [['h2', 'started', 'migrated']]);
  t.is(w.progress('h1', A)?.processedBytes, 0);
  clock.advance(1000); // 1 GiB at 512 MiB/s = 2 s
  t.is(w.progress('h1', A)?.processedBytes, 512 * 1024 * 1024);
  t.throws(() => w.migrate('h1', A, 'h2'), { message: /already migrating/ });
  clock.advance(1000);
  await done;
  t.is(w.whereIs(A), 'h2');
  t.deepEqual(events.slice(1).map((e) => [e.host, e.kind, e.detail]), [['h1', 'stopped', 3], ['h2', 'resumed', 1]]);
  t.deepEqual(w.vms('h1'), []);
  t.is(w.totals.migrations, 1);
});

test('an aborted migration leaves the VM where it was and rejects with MIGRATION_ABORTED', async (t) => {
  const { w } = world([0.3]);
  const done = w.migrate('h1', A, 'h2');
  t.true(w.abortMigration('h1', A));
  const err = await t.throwsAsync(done);
  t.true(isVmanageError(err) && err.code === 'MIGRATION_ABORTED');
  t.is(w.whereIs(A), 'h1');
  t.false(w.abortMigration('h1', A));
  t.deepEqual(w.vms('h2').map((v) => v.name), ['vm-b']);
});

test('budget time is counted only over the budget in force', (t) => {
  const { w, clock } = world([1]);
  w.setBudget('h1', 90);
  clock.advance(1000);
  w.setBudget('h1', 200);
  clock.advance(3000);
  w.tick();
  t.is(w.totals.hostMs, 4000);
  t.is(w.totals.overBudgetMs, 1000);
});

test('water-filling never gives more than wanted or more than the capacity, and fills what it can', (t) => {
  fc.assert(fc.property(
    fc.array(fc.record({ want: fc.double({ min: 0, max: 5000, noNaN: true }), weight: fc.double({ min: 0.001, max: 1e6, noNaN: true }) }), { maxLength: 12 }),
    fc.double({ min: 0, max: 20_000, noNaN: true }),
    (items, capacity) => {
      const out = waterFill(items, capacity);
      const total = out.reduce((a, b) => a + b, 0);
      const wanted = items.reduce((a, b) => a + b.want, 0);
      out.forEach((g, i) => { if (g < -1e-9 || g > (items[i]?.want ?? 0) + 1e-6) throw new Error(`item ${i} got ${g}`); });
      if (total > capacity + 1e-6) throw new Error(`gave ${total} of ${capacity}`);
      if (total < Math.min(capacity, wanted) - 1e-6) throw new Error(`left ${Math.min(capacity, wanted) - total} unused`);
    },
  ));
  t.pass();
});

test('the scenario is chosen by rule: same workload and seed, same set-up; the hot host gets the sharpest rises', async (t) => {
  const { buildScenario } = await import('../../src/demo/scenario.js');
  const { syntheticWorkload } = await import('../../src/sim/synthetic.js');
  const workload = syntheticWorkload({ vms: 300, intervals: 288, seed: 3 });
  const a = buildScenario({ hosts: 4, vmsPerHost: 2, workload });
  const b = buildScenario({ hosts: 4, vmsPerHost: 2, workload });
  t.deepEqual(a.vms.map((v) => [v.uuid, v.host, Array.from(v.trace).slice(0, 5)]), b.vms.map((v) => [v.uuid, v.host, Array.from(v.trace).slice(0, 5)]));
  t.is(new Set(a.vms.map((v) => v.uuid)).size, 8);
  for (const v of a.vms) t.regex(v.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const mean = (tr: ArrayLike<number>, from: number, to: number): number => Array.from(tr).slice(from, to).reduce((s, x) => s + x, 0) / (to - from);
  for (const v of a.vms.filter((x) => x.host === a.hot)) t.true(mean(v.trace, 2, 14) - mean(v.trace, 0, 2) > 0.3, `${v.name} rises`);
  for (const v of a.vms.filter((x) => x.host !== a.hot)) t.true(mean(v.trace, 0, 20) <= 0.3, `${v.name} is light`);
  t.is(a.capWatts[a.hot], a.budgets[a.hot]);
  t.throws(() => buildScenario({ hosts: 1, vmsPerHost: 2, workload }), { message: /--hosts: expected 2\.\.64/ });
});
