import test from 'ava';
import { ManualClock } from '../../src/domain/clock.js';
import type { Decision, VmSnapshot } from '../../src/domain/model.js';
import { violationTriggerDefaults, violationTriggerPolicy, type ViolationTriggerParams } from '../../src/domain/policies/violation-trigger.js';
import { snapshot, vm } from './fixtures.js';

const params = violationTriggerDefaults as ViolationTriggerParams;

/** Runs one decision per second over a power trace; returns the requests with their time. */
function run(trace: readonly number[], vms: readonly VmSnapshot[] | ((open: Set<string>) => VmSnapshot[]), p: ViolationTriggerParams = params): { at: number; d: Decision }[] {
  const clock = new ManualClock(0);
  const policy = violationTriggerPolicy.create();
  const open = new Set<string>();
  const out: { at: number; d: Decision }[] = [];
  for (const watts of trace) {
    clock.advance(1000);
    const list = typeof vms === 'function' ? vms(open) : vms;
    for (const d of policy.decide(snapshot({ watts, vms: list }), p, clock)) {
      out.push({ at: clock.now(), d });
      open.add(d.target);
    }
  }
  return out;
}

const vms = [vm('small', { cpuUtil: 0.1 }), vm('mid', { cpuUtil: 0.5 }), vm('big', { cpuUtil: 0.9 })];
const withOpen = (open: Set<string>) => vms.map((v) => ({ ...v, migrationOpen: open.has(v.uuid) }));

test('violation-trigger: violations under the threshold in the window ask for nothing', (t) => {
  t.deepEqual(run([210, 210, 210, 210, 210, 150, 150, 150], vms), []);
});

test('violation-trigger: violations spread wider than the window never add up', (t) => {
  const trace = Array.from({ length: 300 }, (_, i) => (i % 15 === 0 ? 210 : 150));
  t.deepEqual(run(trace, vms), []);
});

test('violation-trigger: reaching the threshold asks the leader to move the VM that covers the excess most cheaply', (t) => {
  const out = run([205, 205, 205, 205, 205, 205], vms);
  t.is(out.length, 1);
  t.like(out[0]!.d, { kind: 'request-migration', reason: { code: 'violation-frequency' }, policy: 'violation-trigger' });
  // excess 5 W + margin 5 W = 10 W; dynamic 105 W split 0.2:1:1.8 by CPU -> small 7.5, mid 37.5, big 67.5.
  t.is(out[0]!.d.target, 'mid');
  t.is(out[0]!.d.value, 10);
});

test('violation-trigger: with nothing big enough it picks the biggest contributor', (t) => {
  const out = run([260, 260, 260, 260, 260, 260], vms);
  t.is(out[0]?.d.target, 'big');
});

test('violation-trigger: at most one open request at a time and one per minIntervalMs', (t) => {
  const trace = Array.from({ length: 200 }, () => 210);
  const out = run(trace, withOpen, { ...params, maxOpenRequests: 2 });
  // Requests at 6 s, then at 66 s, then none: two open.
  t.deepEqual(out.map((r) => r.at / 1000), [6, 66]);
  t.not(out[0]!.d.target, out[1]!.d.target, 'never twice for one VM');
});

test('violation-trigger: hysteresis keeps it on until the count falls to offThreshold', (t) => {
  const p = { ...params, minIntervalMs: 0, maxOpenRequests: 100, vmCooldownMs: 0 };
  const trace = [...Array.from({ length: 6 }, () => 210), ...Array.from({ length: 56 }, () => 150)];
  const out = run(trace, vms, p);
  // On at 6 s (6 violations); violations leave the window at 61..66 s: on while count > 2.
  const times = out.map((r) => r.at / 1000);
  t.is(times[0], 6);
  t.true(times.every((s) => s <= 64), `requests at ${times.join(', ')}`);
  t.true(times.includes(60));
});

test('violation-trigger: a stale reading is not a violation', (t) => {
  const clock = new ManualClock(0);
  const policy = violationTriggerPolicy.create();
  for (let i = 0; i < 20; i++) {
    clock.advance(1000);
    t.deepEqual(policy.decide(snapshot({ watts: 300, stale: true, vms }), params, clock), []);
  }
});

test('violation-trigger: schema rejects offThreshold >= onThreshold', (t) => {
  t.false(violationTriggerPolicy.schema.safeParse({ ...params, offThreshold: 6 }).success);
});

test('violation-trigger: a VM it asked for is not asked for again within vmCooldownMs; another is', (t) => {
  // The leader answers at once (nothing stays open) but the VMs stay: 3 VMs, 3 requests, then none.
  const trace = Array.from({ length: 400 }, () => 210);
  const out = run(trace, vms, { ...params, minIntervalMs: 10_000, vmCooldownMs: 1_000_000 });
  t.deepEqual(out.map((r) => r.d.target).sort(), ['big', 'mid', 'small']);
});
