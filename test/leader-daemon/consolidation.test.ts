// Consolidation through the leader core with the real LeaderLink: an empty host is told to power
// off and is `off` once its session ends; rising demand asks for a host to be powered on, which
// without a BMC configured for it is journaled as unsupported (and logged), not pretended, and with
// one (ipmi_sim, a real BMC) goes through IPMI chassis control.
import test from 'ava';
import { systemClock } from '../../src/adapters/clock.js';
import { IpmiChassis } from '../../src/adapters/power/chassis-ipmi.js';
import { execRunner } from '../../src/adapters/power/ipmi-exec.js';
import { startIpmiSim } from '../support/ipmisim.js';
import { waitFor } from '../support/proc.js';
import { leaderConfig, registered, startTestHost, startTestLeader, uuidOf } from './support.js';

const fast = { policies: { migration: { stability: { minOnMs: 0, minOffMs: 0 } } }, cluster: { budgetWatts: 2000 } };

test('an empty host is powered off by command, is off when it goes, and rising demand asks for it back (no BMC: unsupported)', async (t) => {
  const { leader, hub } = await startTestLeader(t, await leaderConfig(t, fast));
  const offs: number[] = [];
  const h1 = startTestHost(t, hub, 'h1', { vms: [{ uuid: uuidOf(1), cpuUtil: 0.5 }] });
  const h2 = startTestHost(t, hub, 'h2', {
    commands: { migrate: () => ({ done: false, reason: 'no' }), abortMigration: () => ({ done: false }), powerOff: () => { offs.push(Date.now()); return { done: true }; } },
  });
  await registered(h1);
  await registered(h2);
  await waitFor('the VM listed', () => leader.vms().length === 1);
  const dry = await leader.plan({ dryRun: true });
  t.deepEqual(dry.decisions.map((d) => [d.kind, d.target, d.outcome]), [['power-off-host', 'h2', 'dry-run']]);
  t.is(offs.length, 0);
  const pass = await leader.plan({ dryRun: false });
  t.deepEqual(pass.decisions.map((d) => [d.kind, d.target]), [['power-off-host', 'h2']]);
  await waitFor('the power-off command', () => offs.length === 1);
  await waitFor('powering off', () => leader.hosts().find((h) => h.id === 'h2')?.state === 'powering-off');
  await h2.link.stop();
  await waitFor('off', () => leader.hosts().find((h) => h.id === 'h2')?.state === 'off');
  t.is(leader.explain(pass.decisions[0]!.id)?.outcome, 'succeeded');
  t.is(leader.status().hosts.off, 1);
  const budgets = leader.budgets().hosts;
  t.true(budgets.find((b) => b.host === 'h1')!.budgetWatts >= budgets.find((b) => b.host === 'h1')!.floorWatts);
  // Demand rises on h1 past what the hosts that are on can carry.
  h1.state.vms = Array.from({ length: 5 }, (_, i) => ({ uuid: uuidOf(10 + i), cpuUtil: 1, vcpus: 2 }));
  await waitFor('the new VMs listed', () => leader.vms().length === 5);
  const on = await leader.plan({ dryRun: false });
  const d = on.decisions.find((x) => x.kind === 'power-on-host');
  t.is(d?.target, 'h2');
  await waitFor('the outcome', () => leader.explain(d!.id)?.outcome === 'unsupported');
  t.is(leader.hosts().find((h) => h.id === 'h2')?.state, 'off');
});

test('a host that refuses the power-off command stays on and the refusal is journaled', async (t) => {
  const { leader, hub } = await startTestLeader(t, await leaderConfig(t, fast));
  const h1 = startTestHost(t, hub, 'h1', { vms: [{ uuid: uuidOf(1), cpuUtil: 0.5 }] });
  const h2 = startTestHost(t, hub, 'h2', {
    commands: { migrate: () => ({ done: false }), abortMigration: () => ({ done: false }), powerOff: () => ({ done: false, reason: 'power-off not allowed by configuration' }) },
  });
  await registered(h1);
  await registered(h2);
  await waitFor('the VM listed', () => leader.vms().length === 1);
  const pass = await leader.plan({ dryRun: false });
  const id = pass.decisions.find((d) => d.kind === 'power-off-host')!.id;
  await waitFor('refused', () => leader.explain(id)?.outcome === 'refused');
  t.regex(JSON.stringify(leader.explain(id)?.actual), /not allowed/);
  t.is(leader.hosts().find((h) => h.id === 'h2')?.state, 'on');
});

test('with a BMC configured for the host, the leader powers it on through IPMI chassis control (ipmi_sim) and it is on when it registers', async (t) => {
  const sim = await startIpmiSim(t);
  const target = sim.target();
  await new IpmiChassis({ target, tool: 'freeipmi', runner: execRunner(), clock: systemClock, timeoutMs: 5000, pollMs: 50 }).powerOff();
  t.is(await sim.chassisFile(), '0');
  const { leader, hub } = await startTestLeader(t, await leaderConfig(t, { ...fast, hosts: { h2: { bmc: { protocol: 'ipmi', target, tool: 'freeipmi' } } } }));
  const h1 = startTestHost(t, hub, 'h1', { vms: [{ uuid: uuidOf(1), cpuUtil: 0.5 }] });
  const h2 = startTestHost(t, hub, 'h2', { commands: { migrate: () => ({ done: false }), abortMigration: () => ({ done: false }), powerOff: () => ({ done: true }) } });
  await registered(h1);
  await registered(h2);
  await waitFor('the VM listed', () => leader.vms().length === 1);
  await leader.plan({ dryRun: false });
  await waitFor('powering off', () => leader.hosts().find((h) => h.id === 'h2')?.state === 'powering-off');
  await h2.link.stop();
  await waitFor('off', () => leader.hosts().find((h) => h.id === 'h2')?.state === 'off');
  h1.state.vms = Array.from({ length: 5 }, (_, i) => ({ uuid: uuidOf(10 + i), cpuUtil: 1, vcpus: 2 }));
  await waitFor('the new VMs listed', () => leader.vms().length === 5);
  const on = await leader.plan({ dryRun: false });
  const d = on.decisions.find((x) => x.kind === 'power-on-host');
  t.is(d?.target, 'h2');
  await waitFor('applied through the BMC', () => leader.explain(d!.id)?.outcome === 'applied', 15_000);
  t.is(await sim.chassisFile(), '1');
  t.is(leader.hosts().find((h) => h.id === 'h2')?.state, 'powering-on');
  const back = startTestHost(t, hub, 'h2');
  await registered(back);
  await waitFor('on again', () => leader.hosts().find((h) => h.id === 'h2')?.state === 'on');
});
