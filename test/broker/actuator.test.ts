import test from 'ava';
import { Actuator, type ActuatorBackend } from '../../src/broker/actuator.js';
import { DryRunBackend, portsBackend } from '../../src/broker/backends.js';
import { defaultRails, withRails } from '../../src/broker/rails.js';
import { ManualClock } from '../../src/domain/clock.js';
import { ErrorCodes, VmanageError } from '../../src/domain/errors.js';
import type { Decision, DecisionKind } from '../../src/domain/model.js';

function d(kind: DecisionKind, value: number, target = 'h1'): Decision {
  return { kind, target, value, policy: 'test', reason: { code: 'test', text: 'test' }, predicted: {}, inputs: {} };
}

const rails = withRails(defaultRails(), {
  'set-frequency-cap': { min: 1_000_000, max: 3_000_000, dwellMs: 2000, windowMs: 60_000, maxChanges: 3 },
});

function setup(backend: ActuatorBackend = new DryRunBackend()) {
  const clock = new ManualClock(0);
  return { clock, backend, actuator: new Actuator({ clock, backend, rails }) };
}

/** Each step: advance the clock by `after` ms, apply, expect ok or a refusal code. */
const tables: { name: string; steps: [after: number, decision: Decision, expect: string][] }[] = [
  { name: 'a value outside the bounds is refused, not clamped', steps: [[0, d('set-frequency-cap', 3_500_000), 'out-of-bounds'], [0, d('set-frequency-cap', 999_999), 'out-of-bounds']] },
  { name: 'a non-finite value is refused', steps: [[0, d('set-frequency-cap', Number.NaN), 'invalid-value'], [0, d('set-vm-quota', -5, 'vm'), 'invalid-value']] },
  { name: 'a raise within the dwell time is refused, a later one passes', steps: [[0, d('set-frequency-cap', 2_000_000), 'ok'], [1000, d('set-frequency-cap', 2_100_000), 'dwell'], [1000, d('set-frequency-cap', 2_100_000), 'ok']] },
  { name: 'lowering (the safe direction) passes the dwell time', steps: [[0, d('set-frequency-cap', 2_000_000), 'ok'], [10, d('set-frequency-cap', 1_500_000), 'ok'], [10, d('set-frequency-cap', 1_000_000), 'ok']] },
  { name: 'raises are rate limited per window, lowering is not', steps: [
    [0, d('set-frequency-cap', 1_100_000), 'ok'], [2000, d('set-frequency-cap', 1_200_000), 'ok'], [2000, d('set-frequency-cap', 1_300_000), 'ok'],
    [2000, d('set-frequency-cap', 1_400_000), 'rate-limited'], [0, d('set-frequency-cap', 1_000_000), 'ok'], [60_000, d('set-frequency-cap', 1_400_000), 'ok']] },
  { name: 'shares have no safe direction: every change respects the dwell time', steps: [[0, d('set-vm-shares', 512, 'vm'), 'ok'], [1000, d('set-vm-shares', 256, 'vm'), 'dwell']] },
  { name: 'an unlimited quota (-1) is a raise; a smaller quota is safe', steps: [[0, d('set-vm-quota', 50_000, 'vm'), 'ok'], [100, d('set-vm-quota', -1, 'vm'), 'dwell'], [100, d('set-vm-quota', 20_000, 'vm'), 'ok']] },
  { name: 'a migration request puts the VM in cooldown; the kind limit caps requests across VMs', steps: [
    [0, d('request-migration', 10, 'vm1'), 'ok'], [1000, d('request-migration', 10, 'vm1'), 'cooldown'], [0, d('request-migration', 10, 'vm2'), 'ok'],
    [0, d('request-migration', 10, 'vm3'), 'rate-limited']] },
  { name: 'knobs are independent', steps: [[0, d('set-vm-shares', 512, 'a'), 'ok'], [0, d('set-vm-shares', 512, 'b'), 'ok']] },
];

for (const table of tables) {
  test(`actuator rails: ${table.name}`, async (t) => {
    const { clock, actuator } = setup();
    for (const [i, [after, decision, expect]] of table.steps.entries()) {
      clock.advance(after);
      const r = await actuator.apply(decision);
      t.is(r.ok ? 'ok' : r.refusal.code, expect, `step ${i}: ${decision.kind} ${decision.target} ${decision.value}`);
    }
  });
}

test('actuator: one change in flight per knob; another knob is not held up', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const calls: Decision[] = [];
  const { actuator } = setup({ name: 'slow', apply: async (x) => { calls.push(x); if (x.target === 'h1') await gate; } });
  const first = actuator.apply(d('set-frequency-cap', 1_500_000));
  const second = await actuator.apply(d('set-frequency-cap', 1_200_000));
  t.like(second, { ok: false, refusal: { code: 'in-flight' } });
  t.true((await actuator.apply(d('set-vm-shares', 512, 'vm'))).ok);
  release();
  t.true((await first).ok);
  t.true((await actuator.apply(d('set-frequency-cap', 1_200_000))).ok);
  t.is(calls.length, 3);
});

test('actuator: a backend error is a typed refusal with its code, followed by a cooldown', async (t) => {
  const { clock, actuator } = setup({ name: 'failing', apply: async () => { throw new VmanageError(ErrorCodes.PowerCapRejected, 'did not take'); } });
  const r = await actuator.apply(d('set-power-limit', 150));
  t.like(r, { ok: false, refusal: { code: 'backend-error', errorCode: 'POWER_CAP_REJECTED' } });
  clock.advance(1000);
  t.like(await actuator.apply(d('set-power-limit', 150)), { ok: false, refusal: { code: 'cooldown' } });
  t.deepEqual(actuator.refusalCounts(), { 'backend-error': 1, cooldown: 1 });
});

test('actuator: a backend slower than applyTimeoutMs is refused, and the knob stays in flight until it settles', async (t) => {
  const clock = new ManualClock(0);
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const actuator = new Actuator({ clock, rails, applyTimeoutMs: 500, backend: { name: 'hung', apply: () => gate } });
  const pending = actuator.apply(d('set-frequency-cap', 1_500_000));
  clock.advance(500);
  t.like(await pending, { ok: false, refusal: { code: 'backend-timeout' } });
  clock.advance(10_000);
  t.like(await actuator.apply(d('set-frequency-cap', 1_400_000)), { ok: false, refusal: { code: 'in-flight' } });
  release();
  await gate;
  await new Promise((r) => setImmediate(r));
  t.true((await actuator.apply(d('set-frequency-cap', 1_400_000))).ok);
});

test('dry-run backend: records what would be done and goes through the same rails', async (t) => {
  const dry = new DryRunBackend();
  const { actuator } = setup(dry);
  await actuator.apply(d('set-frequency-cap', 2_000_000));
  await actuator.apply(d('set-frequency-cap', 9_000_000));
  t.deepEqual(dry.applied.map((x) => x.value), [2_000_000]);
  t.is(actuator.backendName, 'dry-run');
});

test('ports backend: routes each kind to its port; a missing port fails loudly as UNSUPPORTED', async (t) => {
  const calls: string[] = [];
  const backend = portsBackend({
    frequency: { state: async () => [], setMaxFrequency: async (k) => { calls.push(`freq ${k}`); }, clearMaxFrequency: async () => undefined },
    hypervisor: { setScheduler: async (uuid, p) => { calls.push(`sched ${uuid} ${JSON.stringify(p)}`); } },
    requestMigration: async (vm, w) => { calls.push(`migrate ${vm} ${w}`); },
  });
  await backend.apply(d('set-frequency-cap', 2_000_000));
  await backend.apply(d('set-vm-shares', 512, 'vm'));
  await backend.apply(d('set-vm-quota', 40_000, 'vm'));
  await backend.apply(d('request-migration', 12, 'vm'));
  t.deepEqual(calls, ['freq 2000000', 'sched vm {"cpuShares":512}', 'sched vm {"vcpuQuotaUs":40000,"vcpuPeriodUs":100000}', 'migrate vm 12']);
  const { actuator } = setup(backend);
  t.like(await actuator.apply(d('set-power-limit', 150)), { ok: false, refusal: { code: 'backend-error', errorCode: 'UNSUPPORTED' } });
});

test('actuator: idle per-VM knob state is pruned so memory stays bounded as VMs come and go', async (t) => {
  const { clock, actuator } = setup();
  for (let i = 0; i < 100; i++) await actuator.apply(d('set-vm-shares', 512, `vm${i}`));
  clock.advance(120_000);
  actuator.prune();
  t.is(actuator.lastValue('set-vm-shares', 'vm0'), undefined);
});
