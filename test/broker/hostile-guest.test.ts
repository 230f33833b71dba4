// A hostile guest floods SLA violation reports: it cannot starve other VMs' handling, and no more
// migration requests leave the host than the trigger and the actuator's rails allow.
import test from 'ava';
import { testModel } from '../policies/fixtures.js';
import { harness, power, settle } from './harness.js';

const inventory = [
  { uuid: 'hostile', name: 'hostile', vcpus: 4, cpuUtil: 1 },
  { uuid: 'honest', name: 'honest', vcpus: 2, cpuUtil: 0.6 },
  { uuid: 'quiet', name: 'quiet', vcpus: 2, cpuUtil: 0.3 },
];

test('hostile guest: 1000 violation reports a second for 5 minutes raise at most the configured migration requests', async (t) => {
  const h = harness({ policies: [{ name: 'sla-dvfs' }, { name: 'budget' }, { name: 'vm-shares' }, { name: 'violation-trigger', params: { maxOpenRequests: 1, minIntervalMs: 60_000 } }, { name: 'fail-safe' }], minGapMs: 200 });
  h.builder.setVms(inventory);
  // A budget this host cannot meet even at its lowest clock: violations never stop.
  h.builder.setLeaderBudget(120);
  h.builder.setHostUtil(1);
  let honestAccepted = 0;
  h.bus.on('test', 'applied', ({ result }) => {
    if (result.decision.kind === 'request-migration') {
      // The leader answers each request after 5 s (refuses: the VM stays).
      const vm = result.decision.target;
      h.clock.setTimer(5000, () => h.bus.emit('migration-resolved', { vm, outcome: 'refused' }));
    }
  });
  for (let s = 0; s < 300; s++) {
    for (let i = 0; i < 1000; i++) h.bus.emit('sla-report', { vm: 'hostile', report: { status: 'violated', slack: -1 } });
    const before = h.builder.counters.accepted;
    h.bus.emit('sla-report', { vm: 'honest', report: { status: 'ok', slack: 0.4 } });
    honestAccepted += h.builder.counters.accepted - before;
    h.clock.advance(1000);
    h.bus.emit('power-reading', power(testModel.watts(1, h.builder.build().frequency.capKHz / 3_000_000) + 10, h.clock.now()));
    await h.broker.cycle();
    await settle();
  }
  const requests = h.done.filter((d) => d.kind === 'request-migration');
  // onThreshold 6 violations -> first request at ~6 s, then one per minIntervalMs (60 s), each VM
  // at most once per vmCooldownMs (300 s): three VMs, three requests.
  t.is(requests.length, 3, `${requests.length} requests`);
  t.is(new Set(requests.map((d) => d.target)).size, 3, 'never the same VM twice');
  const times = h.journal.recent(100_000).filter((e) => e.decision.kind === 'request-migration' && e.outcome === 'applied').map((e) => e.at);
  for (let i = 1; i < times.length; i++) t.true(times[i]! - times[i - 1]! >= 60_000, 'spaced by minIntervalMs');
  t.is(honestAccepted, 300, "every one of the honest VM's reports was heard");
  t.true(h.builder.counters.rate >= 299_000, 'the flood was dropped at the gate');
  t.log(`dropped ${h.builder.counters.rate}, accepted ${h.builder.counters.accepted}, requests at ${times.map((x) => (x - 1_000_000) / 1000).join(', ')} s`);
  t.is(h.builder.build().vms.find((v) => v.uuid === 'honest')!.sla.status, 'ok');
});

test('hostile guest: a flood of "all is well" cannot hide another VM\'s violation', async (t) => {
  const h = harness({ policies: [{ name: 'sla-dvfs' }] });
  h.builder.setVms(inventory);
  h.builder.setLeaderBudget(250);
  h.bus.emit('power-reading', power(150, h.clock.now()));
  for (let i = 0; i < 10_000; i++) h.bus.emit('sla-report', { vm: 'hostile', report: { status: 'ok', slack: 1 } });
  h.bus.emit('sla-report', { vm: 'honest', report: { status: 'violated', slack: -0.2 } });
  await settle();
  t.like(h.done.at(-1), { kind: 'set-frequency-cap', reason: { code: 'sla-violation' } });
  t.regex(h.done.at(-1)!.reason.text, /honest/);
});

test('hostile guest: its violation flood raises the cap at most one step per cycle and never past the budget', async (t) => {
  const h = harness({ policies: [{ name: 'sla-dvfs' }, { name: 'fail-safe' }], minGapMs: 1000 });
  h.builder.setVms(inventory);
  h.builder.setLeaderBudget(200);
  h.builder.setHostUtil(0.9);
  for (let s = 0; s < 30; s++) {
    for (let i = 0; i < 500; i++) h.bus.emit('sla-report', { vm: 'hostile', report: { status: 'violated', slack: -1 } });
    h.clock.advance(1000);
    const r = h.builder.build().frequency.capKHz / 3_000_000;
    h.bus.emit('power-reading', power(testModel.watts(Math.min(1, 0.9 / r), r), h.clock.now()));
    await h.broker.cycle();
    await settle();
  }
  const caps = h.done.filter((d) => d.kind === 'set-frequency-cap').map((d) => d.value);
  for (let i = 1; i < caps.length; i++) t.true(caps[i]! - caps[i - 1]! <= 100_000, 'one step at a time');
  const last = h.builder.build().frequency.capKHz / 3_000_000;
  t.true(testModel.watts(Math.min(1, 0.9 / last), last) <= 200);
  t.true(h.broker.counters.cycles <= 30 * 2 + 1, `${h.broker.counters.cycles} cycles: the flood did not multiply them`);
});

test('SLA storm: every one of 50 VMs reporting violations 10 times a second moves the cap one step per cycle and the budget still wins', async (t) => {
  const h = harness({ policies: [{ name: 'sla-dvfs' }, { name: 'budget', params: { raise: false } }, { name: 'fail-safe' }], minGapMs: 1000 });
  h.builder.setVms(Array.from({ length: 50 }, (_, i) => ({ uuid: `vm${i}`, vcpus: 1, cpuUtil: 0.9 })));
  h.builder.setLeaderBudget(200);
  h.builder.setHostUtil(0.9);
  const watts: number[] = [];
  for (let s = 0; s < 40; s++) {
    for (let tick = 0; tick < 10; tick++) {
      for (let i = 0; i < 50; i++) h.bus.emit('sla-report', { vm: `vm${i}`, report: { status: 'violated', slack: -0.5 } });
      h.clock.advance(100);
      await settle();
    }
    const r = h.builder.build().frequency.capKHz / 3_000_000;
    const w = testModel.watts(Math.min(1, 0.9 / r), r);
    watts.push(w);
    h.bus.emit('power-reading', power(w, h.clock.now()));
    await h.broker.cycle();
  }
  const caps = h.done.filter((d) => d.kind === 'set-frequency-cap').map((d) => d.value);
  for (let i = 1; i < caps.length; i++) t.true(caps[i]! - caps[i - 1]! <= 100_000, 'never more than one step up');
  t.true(watts.every((w) => w <= 200), `power ${Math.max(...watts).toFixed(1)} W at most`);
  t.true(watts[watts.length - 1]! >= 190, 'and it did raise towards the budget');
  t.true(h.broker.counters.cycles <= 40 * 2 + 1, `${h.broker.counters.cycles} cycles`);
});
