import test from 'ava';
import { ManualClock } from '../../src/domain/clock.js';
import { QUOTA_PERIOD_US, type Decision } from '../../src/domain/model.js';
import { vmSharesDefaults, vmSharesPolicy, type VmSharesParams } from '../../src/domain/policies/vm-shares.js';
import { snapshot, vm } from './fixtures.js';

const params = vmSharesDefaults as VmSharesParams;
const fleet = [
  vm('roomy', { slack: 0.5, cpuUtil: 0.6 }),
  vm('tight', { slack: 0.02 }),
  vm('late', { status: 'violated', slack: -0.3 }),
  vm('fine', { slack: 0.1 }),
  vm('silent', { status: 'unknown', slack: 0 }),
];

function byTarget(out: Decision[], kind: Decision['kind']): Record<string, number> {
  return Object.fromEntries(out.filter((d) => d.kind === kind).map((d) => [d.target, d.value]));
}

test('vm-shares: without power pressure nothing changes', (t) => {
  t.deepEqual(vmSharesPolicy.create().decide(snapshot({ watts: 150, vms: fleet }), params, new ManualClock(0)), []);
});

test('vm-shares: under pressure VMs with room give up cycles and VMs at their limit get priority', (t) => {
  const out = vmSharesPolicy.create().decide(snapshot({ watts: 199, vms: fleet }), params, new ManualClock(0));
  t.deepEqual(byTarget(out, 'set-vm-shares'), { roomy: params.donorShares, tight: params.priorityShares, late: params.priorityShares });
  const quotas = byTarget(out, 'set-vm-quota');
  t.deepEqual(Object.keys(quotas), ['roomy']);
  // 0.6 of a vCPU, less half of its 50 % slack: 0.45 of the period.
  t.is(quotas['roomy'], 0.45 * QUOTA_PERIOD_US);
  const roomy = out.find((d) => d.kind === 'set-vm-quota');
  t.true((roomy?.predicted.deltaWatts ?? 0) < 0, 'predicts a saving');
});

test('vm-shares: an unusable power reading counts as pressure (worst case)', (t) => {
  const out = vmSharesPolicy.create().decide(snapshot({ watts: 150, stale: true, vms: fleet }), params, new ManualClock(0));
  t.is(byTarget(out, 'set-vm-shares')['roomy'], params.donorShares);
});

test('vm-shares: pressure ends only after power stays under the release margin for releaseAfterMs', (t) => {
  const clock = new ManualClock(0);
  const policy = vmSharesPolicy.create();
  policy.decide(snapshot({ watts: 199, vms: fleet }), params, clock);
  const applied = fleet.map((v) => (v.uuid === 'roomy'
    ? { ...v, scheduler: { cpuShares: params.donorShares, vcpuQuotaUs: 45_000 } }
    : v.uuid === 'tight' || v.uuid === 'late' ? { ...v, scheduler: { cpuShares: params.priorityShares } } : v));
  clock.advance(1000);
  t.deepEqual(policy.decide(snapshot({ watts: 195, vms: applied }), params, clock), [], 'inside the hysteresis band: hold');
  clock.advance(1000);
  t.deepEqual(policy.decide(snapshot({ watts: 150, vms: applied }), params, clock), [], 'calm, but not long enough');
  clock.advance(params.releaseAfterMs);
  const out = policy.decide(snapshot({ watts: 150, vms: applied }), params, clock);
  t.deepEqual(byTarget(out, 'set-vm-shares'), { roomy: params.normalShares, tight: params.normalShares, late: params.normalShares });
  t.deepEqual(byTarget(out, 'set-vm-quota'), { roomy: -1 });
  t.true(out.every((d) => d.reason.code === 'pressure-released'));
});

test('vm-shares: a donor keeps its quota while throttled (no ratchet) and loses it at its limit', (t) => {
  const clock = new ManualClock(0);
  const policy = vmSharesPolicy.create();
  policy.decide(snapshot({ watts: 199, vms: [vm('d', { slack: 0.5, cpuUtil: 0.6 })] }), params, clock);
  const throttled = vm('d', { slack: 0.3, cpuUtil: 0.45, scheduler: { cpuShares: params.donorShares, vcpuQuotaUs: 45_000 } });
  t.deepEqual(policy.decide(snapshot({ watts: 199, vms: [throttled] }), params, clock), []);
  const squeezed = { ...throttled, sla: { ...throttled.sla, slack: 0.01 } };
  const out = policy.decide(snapshot({ watts: 199, vms: [squeezed] }), params, clock);
  t.deepEqual(byTarget(out, 'set-vm-quota'), { d: -1 });
  t.deepEqual(byTarget(out, 'set-vm-shares'), { d: params.priorityShares });
});

test('vm-shares: schema rejects a release margin below the pressure margin', (t) => {
  const r = vmSharesPolicy.schema.safeParse({ ...vmSharesDefaults as object, releaseMarginWatts: 1 });
  t.false(r.success);
});
