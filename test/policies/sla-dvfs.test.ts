import test from 'ava';
import { ManualClock } from '../../src/domain/clock.js';
import type { HostSnapshot } from '../../src/domain/model.js';
import { slaDvfsDefaults, slaDvfsPolicy, type SlaDvfsParams } from '../../src/domain/policies/sla-dvfs.js';
import { MAX_KHZ, snapshot, vm } from './fixtures.js';

const params = slaDvfsDefaults as SlaDvfsParams;
const violated = [vm('a', { status: 'violated', slack: -0.2 }), vm('b')];

interface Row {
  readonly name: string;
  readonly snap: HostSnapshot;
  /** Expected new cap, kHz, or null for no decision. */
  readonly cap: number | null;
  readonly code?: string;
}

const rows: Row[] = [
  { name: "a VM's SLA violation raises the cap one step", snap: snapshot({ watts: 150, vms: violated }), cap: 2_100_000, code: 'sla-violation' },
  { name: 'power over budget lowers the cap one step even while a VM violates its SLA', snap: snapshot({ watts: 205, vms: violated }), cap: 1_900_000, code: 'budget-exceeded' },
  { name: 'a stale reading over budget still lowers the cap (worst case)', snap: snapshot({ watts: 210, stale: true, ageMs: 9000 }), cap: 1_900_000, code: 'budget-exceeded' },
  { name: 'a stale reading under budget never raises, whatever the SLAs', snap: snapshot({ watts: 150, stale: true, vms: violated }), cap: null },
  { name: 'a reading older than maxAgeMs never raises', snap: snapshot({ watts: 150, ageMs: 10_000, vms: violated }), cap: null },
  { name: 'an implausible reading never raises', snap: snapshot({ watts: 1e7, vms: violated }), cap: null },
  { name: 'a NaN reading never raises', snap: snapshot({ watts: Number.NaN, vms: violated }), cap: null },
  { name: 'a raise the model predicts over budget minus margin is not made', snap: snapshot({ watts: 197, vms: violated }), cap: null },
  { name: 'at the maximum frequency a violation asks for nothing', snap: snapshot({ watts: 150, capKHz: MAX_KHZ, vms: violated }), cap: null },
  { name: 'an SLA report older than slaMaxAgeMs is not a violation', snap: snapshot({ watts: 150, vms: [vm('a', { status: 'violated', at: -60_000 })] }), cap: null },
  { name: 'SLAs met but without margin: hold', snap: snapshot({ watts: 150, vms: [vm('a', { slack: 0.05 })] }), cap: null },
];

for (const row of rows) {
  test(`sla-dvfs: ${row.name}`, (t) => {
    const out = slaDvfsPolicy.create().decide(row.snap, params, new ManualClock(0));
    if (row.cap === null) {
      t.deepEqual(out, []);
      return;
    }
    t.is(out.length, 1);
    t.like(out[0], { kind: 'set-frequency-cap', target: 'h1', value: row.cap, policy: 'sla-dvfs', reason: { code: row.code } });
  });
}

test('sla-dvfs: with every SLA met with margin it relaxes one step per relaxAfterMs, no faster', (t) => {
  const clock = new ManualClock(0);
  const policy = slaDvfsPolicy.create();
  const decideAt = (ms: number, capKHz: number) => {
    clock.advance(ms - clock.now());
    return policy.decide(snapshot({ watts: 150, capKHz, at: ms, vms: [vm('a', { slack: 0.4, at: ms }), vm('b', { slack: 0.3, at: ms })] }), params, clock);
  };
  t.deepEqual(decideAt(0, 2_000_000), []);
  t.deepEqual(decideAt(29_000, 2_000_000), []);
  t.like(decideAt(30_000, 2_000_000)[0], { value: 1_900_000, reason: { code: 'sla-slack' } });
  t.deepEqual(decideAt(31_000, 1_900_000), []);
  t.deepEqual(decideAt(59_000, 1_900_000), []);
  t.like(decideAt(60_000, 1_900_000)[0], { value: 1_800_000 });
});

test('sla-dvfs: a violation resets the relax timer', (t) => {
  const clock = new ManualClock(0);
  const policy = slaDvfsPolicy.create();
  const roomy = (at: number) => [vm('a', { slack: 0.4, at })];
  policy.decide(snapshot({ watts: 150, vms: roomy(0) }), params, clock);
  clock.advance(20_000);
  policy.decide(snapshot({ watts: 196, vms: [vm('a', { status: 'violated', at: 20_000 })] }), params, clock);
  clock.advance(20_000);
  t.deepEqual(policy.decide(snapshot({ watts: 150, vms: roomy(40_000) }), params, clock), []);
  clock.advance(30_000);
  t.is(policy.decide(snapshot({ watts: 150, vms: roomy(70_000) }), params, clock).length, 1);
});

test('sla-dvfs: every decision carries its reason, inputs and predicted watts', (t) => {
  const [d] = slaDvfsPolicy.create().decide(snapshot({ watts: 150, vms: violated }), params, new ManualClock(0));
  t.truthy(d);
  t.true(d!.reason.text.includes('a'));
  t.is(d!.inputs['watts'], 150);
  t.true((d!.predicted.watts ?? 0) > 150);
});
