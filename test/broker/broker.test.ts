import test from 'ava';
import { z } from 'zod';
import { builtinPolicies, definePolicy } from '../../src/domain/policies/index.js';
import { harness, power, settle } from './harness.js';
import { recordingLogger } from './support.js';

const vms = [{ uuid: 'a', name: 'a', vcpus: 4, cpuUtil: 0.9 }, { uuid: 'b', name: 'b', vcpus: 4, cpuUtil: 0.8 }];

test('broker: the most restrictive decision per knob wins, the others are journaled as overruled', async (t) => {
  const h = harness({ policies: [{ name: 'sla-dvfs' }, { name: 'budget' }, { name: 'fail-safe' }] });
  h.builder.setVms(vms);
  h.builder.setLeaderBudget(200);
  h.builder.setHostUtil(0.85);
  h.builder.slaReport('a', { status: 'violated', slack: -0.3 });
  h.bus.emit('power-reading', power(230, h.clock.now()));
  const r = await h.broker.cycle();
  t.is(r.decisions.length, 1);
  t.is(h.broker.counters.cycles, 1);
  const chosen = r.decisions[0]!;
  t.is(chosen.kind, 'set-frequency-cap');
  const entries = h.journal.recent(10);
  const overruled = entries.filter((e) => e.outcome === 'overruled');
  t.true(overruled.length >= 1);
  t.true(overruled.every((e) => e.decision.value >= chosen.value), 'a lower cap always wins');
  t.is(entries.filter((e) => e.outcome === 'applied').length, 1);
});

test('broker: every applied decision is journaled with inputs, reason, predicted, and its observed effect one cycle later', async (t) => {
  const h = harness({ policies: [{ name: 'budget' }] });
  h.builder.setVms(vms);
  h.builder.setLeaderBudget(200);
  h.builder.setHostUtil(0.85);
  h.bus.emit('power-reading', power(230, h.clock.now()));
  await h.broker.cycle();
  const [entry] = h.journal.recent(1);
  t.like(entry, { outcome: 'applied', backend: 'recording', decision: { policy: 'budget', reason: { code: 'budget-exceeded' } } });
  t.truthy(entry!.decision.predicted.watts);
  t.is(entry!.decision.inputs['watts'], 230);
  t.is(entry!.observed, undefined);
  h.clock.advance(1000);
  h.bus.emit('power-reading', power(197, h.clock.now()));
  await h.broker.cycle();
  const observed = h.journal.recent(10).find((e) => e.id === entry!.id)!.observed;
  t.like(observed, { watts: 197, value: entry!.decision.value });
});

test('broker: logs say why: host, vm, policy, reason, predicted; refusals too', async (t) => {
  const { logger, lines } = recordingLogger();
  const h = harness({ policies: [{ name: 'vm-shares' }], logger });
  h.builder.setVms(vms);
  h.bus.emit('sla-report', { vm: 'a', report: { status: 'ok', slack: 0.6 } });
  h.builder.setLeaderBudget(200);
  h.bus.emit('power-reading', power(199, h.clock.now()));
  await h.broker.cycle();
  const line = lines.find((l) => l['kind'] === 'set-vm-quota');
  t.like(line, { host: 'h1', vm: 'a', policy: 'vm-shares', reason: { code: 'pressure-room' } });
  t.truthy(line?.['predicted']);
  // The recording backend does not move the VM's scheduler, so the policy asks again: dwell.
  h.clock.advance(1000);
  await h.broker.cycle();
  const refused = lines.find((l) => l['kind'] === 'set-vm-shares' && l['refusal'] !== undefined);
  t.like(refused, { vm: 'a', policy: 'vm-shares', refusal: { code: 'dwell' }, level: 20 }, 'rails doing their job log at debug');
});

test('broker: a failing policy is logged and counted; the other policies still act', async (t) => {
  const { logger, lines } = recordingLogger();
  const broken = definePolicy({ name: 'broken', description: 'throws', schema: z.object({}), defaults: {}, create: () => ({ decide: () => { throw new Error('bug'); } }) });
  const h = harness({ policies: [{ name: 'broken' }, { name: 'budget' }], bundles: [...builtinPolicies(), broken], logger });
  h.builder.setLeaderBudget(200);
  h.builder.setHostUtil(0.85);
  h.bus.emit('power-reading', power(230, h.clock.now()));
  const r = await h.broker.cycle();
  t.is(h.broker.counters.policyErrors, 1);
  t.is(r.decisions.length, 1);
  t.like(lines.find((l) => l['policy'] === 'broken'), { level: 50 });
});

test('broker: on the injected clock it runs once per period; stop removes its timer and bus listeners', async (t) => {
  const h = harness({ policies: [{ name: 'budget' }] });
  h.broker.start();
  for (let i = 0; i < 5; i++) {
    h.clock.advance(1000);
    await settle();
  }
  t.is(h.broker.counters.cycles, 5);
  h.wiring.disconnect();
  await h.broker.stop();
  t.is(h.bus.listenerCount(), 0);
  h.clock.advance(5000);
  await settle();
  t.is(h.broker.counters.cycles, 5);
});

test('broker: an accepted SLA violation runs a cycle at once and raises the cap', async (t) => {
  const h = harness({ policies: [{ name: 'sla-dvfs' }] });
  h.builder.setVms(vms);
  h.builder.setLeaderBudget(250);
  h.bus.emit('power-reading', power(150, h.clock.now()));
  h.bus.emit('sla-report', { vm: 'b', report: { status: 'violated', slack: -0.2 } });
  await settle();
  t.is(h.broker.counters.cycles, 1);
  t.like(h.done[0], { kind: 'set-frequency-cap', value: 2_100_000, reason: { code: 'sla-violation' } });
  t.is(h.builder.build().frequency.capKHz, 2_100_000, 'the builder sees the applied cap');
});

test('broker: reconfigure validates first and keeps the old set on error', (t) => {
  const h = harness({ policies: [{ name: 'budget' }] });
  t.throws(() => h.broker.reconfigure([{ name: 'budget', params: { ki: -1 } }]), { message: /policies\.0\.params\.ki/ });
  t.deepEqual(h.broker.policyNames(), ['budget']);
  h.broker.reconfigure([{ name: 'sla-dvfs' }, { name: 'fail-safe' }]);
  t.deepEqual(h.broker.policyNames(), ['sla-dvfs', 'fail-safe']);
});

test('broker: cycle requests while a cycle runs coalesce into one more cycle', async (t) => {
  const h = harness({ policies: [{ name: 'budget' }] });
  const first = h.broker.cycle();
  for (let i = 0; i < 100; i++) h.broker.requestCycle();
  t.is(h.broker.cycle(), first, 'a second call returns the running cycle');
  await first;
  await settle();
  t.is(h.broker.counters.cycles, 2);
});

test('broker: requests closer than minGapMs to the last cycle wait for the period', async (t) => {
  const h = harness({ policies: [{ name: 'budget' }], minGapMs: 500 });
  await h.broker.cycle();
  h.clock.advance(499);
  h.broker.requestCycle();
  await settle();
  t.is(h.broker.counters.cycles, 1);
  h.clock.advance(1);
  h.broker.requestCycle();
  await settle();
  t.is(h.broker.counters.cycles, 2);
});

test('wire: a leader budget that is not a positive number is rejected, logged, and changes nothing', async (t) => {
  const { logger, lines } = recordingLogger();
  const h = harness({ policies: [{ name: 'budget' }], logger });
  h.bus.emit('leader-budget', { watts: 210 });
  for (const watts of [Number.NaN, -5, 0, Number.POSITIVE_INFINITY]) h.bus.emit('leader-budget', { watts });
  t.like(h.builder.build().budget, { watts: 210, source: 'leader' });
  t.is(lines.filter((l) => l['msg'] === 'leader budget rejected: expected watts > 0').length, 4);
});
