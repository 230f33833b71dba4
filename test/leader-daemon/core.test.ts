// The leader core with host daemons played by the real LeaderLink over connections that carry each
// host's identity: registration, refusal of a wrong identity, budgets split and pushed, liveness.
import test from 'ava';
import { waitFor } from '../support/proc.js';
import { leaderConfig, registered, startTestHost, startTestLeader, uuidOf } from './support.js';

test('a host registers with its identity, gets the fencing token and is listed with its capacity and migration URI', async (t) => {
  const { leader, hub } = await startTestLeader(t, await leaderConfig(t));
  const h = startTestHost(t, hub, 'h1', { vms: [{ uuid: uuidOf(1), cpuUtil: 0.5 }] });
  await registered(h);
  t.is(h.link.newestToken, leader.status().token);
  t.true(leader.status().token >= 1);
  await waitFor('the VM listed', () => leader.vms().length === 1);
  const [view] = leader.hosts();
  t.like(view, { id: 'h1', liveness: 'up', state: 'on', cpus: 8, memoryMiB: 16384, idleWatts: 100, peakWatts: 300, trust: 'trusted', migrationUri: 'qemu+tls://h1/system' });
  t.like(leader.vms()[0], { uuid: uuidOf(1), host: 'h1', vcpus: 2, memoryMiB: 1024 });
});

test('a host claiming another identity than its connection is refused and counted', async (t) => {
  const { leader, hub } = await startTestLeader(t, await leaderConfig(t));
  const h = startTestHost(t, hub, 'h1', { identity: 'mallory' });
  await waitFor('the refusal', () => leader.counters.refusals.get('identity') === 1);
  t.false(h.link.registered);
  t.is(leader.hosts().length, 0);
  t.is(leader.counters.badInput.get('identity-mismatch'), 1);
});

test('a registration the policies cannot use is refused with every problem named', async (t) => {
  const { leader, hub } = await startTestLeader(t, await leaderConfig(t));
  startTestHost(t, hub, 'h1', { reg: { power: { idleWatts: 300, peakWatts: 100, measured: false } } });
  await waitFor('the refusal', () => leader.counters.refusals.get('invalid') === 1);
  t.is(leader.hosts().length, 0);
});

test('the cluster budget is split over the hosts: the sum stays within it, each gets at least its idle power, and each host receives its budget', async (t) => {
  const { leader, hub } = await startTestLeader(t, await leaderConfig(t, { cluster: { budgetWatts: 700 } }));
  const hosts = [
    startTestHost(t, hub, 'h1', { watts: 280, vms: [{ uuid: uuidOf(1), cpuUtil: 0.9, vcpus: 8 }] }),
    startTestHost(t, hub, 'h2', { watts: 120 }),
    startTestHost(t, hub, 'h3', { watts: 150 }),
  ];
  for (const h of hosts) await registered(h);
  await waitFor('a split on measured demand', () => (leader.budgets().hosts.find((x) => x.host === 'h1')?.demandWatts ?? 0) >= 280);
  await waitFor('budgets on every host, matching the leader', () => hosts.every((h, i) => h.state.budgetWatts === leader.budgets().hosts.find((b) => b.host === `h${i + 1}`)?.budgetWatts));
  const b = leader.budgets();
  const sum = b.hosts.reduce((a, x) => a + x.budgetWatts, 0);
  t.true(sum <= 700 + 1e-9, `sum ${sum}`);
  for (const x of b.hosts) t.true(x.budgetWatts >= 100, `${x.host}: ${x.budgetWatts}`);
  const h1 = b.hosts.find((x) => x.host === 'h1')!;
  t.true(h1.budgetWatts > b.hosts.find((x) => x.host === 'h2')!.budgetWatts, `the busy host gets more: ${JSON.stringify(b)}`);
  const journaled = leader.decisions({ limit: 100 }).filter((d) => d.kind === 'set-host-budget');
  t.true(journaled.length >= 3);
  t.true(journaled.every((d) => d.token === leader.status().token && d.outcome === 'applied'));
  const all = leader.decisions({ limit: 1000 });
  const last = all[all.length - 1]!;
  const page = leader.decisions({ limit: 2, before: last.id });
  t.deepEqual(page.map((d) => d.id), all.filter((d) => d.id < last.id).slice(-2).map((d) => d.id), 'a page before an id, newest last');
  t.like(leader.explain(last.id), { id: last.id, kind: last.kind, reason: last.reason });
  t.is(leader.explain(999_999), undefined);
});

test('setting the cluster budget re-splits at once; a dry run only says what would change', async (t) => {
  const { leader, hub } = await startTestLeader(t, await leaderConfig(t, { cluster: { budgetWatts: 900 } }));
  const hosts = [startTestHost(t, hub, 'h1', { watts: 250 }), startTestHost(t, hub, 'h2', { watts: 250 })];
  for (const h of hosts) await registered(h);
  await waitFor('first budgets', () => hosts.every((h) => h.budgets.length > 0));
  const before = leader.budgets().hosts.map((x) => x.budgetWatts);
  const dry = await leader.setClusterBudget(300, { dryRun: true });
  t.true(dry.dryRun && dry.done);
  t.true(dry.decisions.length > 0 && dry.decisions.every((d) => d.outcome === 'dry-run' && d.id === 0));
  t.deepEqual(leader.budgets().hosts.map((x) => x.budgetWatts), before);
  const real = await leader.setClusterBudget(300, { dryRun: false });
  t.true(real.done);
  t.is(leader.status().clusterBudgetWatts, 300);
  t.true(leader.budgets().hosts.reduce((a, x) => a + x.budgetWatts, 0) <= 300);
  await waitFor('the hosts got the lower budgets', () => hosts.every((h) => h.state.budgetWatts <= 150));
  t.false((await leader.setClusterBudget(-5, { dryRun: false })).done);
});

test('a host silent for the failure timeout is lost: its VMs stay listed, it keeps its budget, and it is back with its next update', async (t) => {
  const { leader, hub } = await startTestLeader(t, await leaderConfig(t));
  const h1 = startTestHost(t, hub, 'h1', { vms: [{ uuid: uuidOf(1), cpuUtil: 0.2 }] });
  const h2 = startTestHost(t, hub, 'h2');
  await registered(h1);
  await registered(h2);
  await waitFor('VM listed', () => leader.vms().length === 1);
  await waitFor('budgets', () => h1.budgets.length > 0);
  const budget = leader.hosts().find((x) => x.id === 'h1')!.budgetWatts;
  await h1.link.stop();
  await waitFor('h1 lost', () => leader.hosts().find((x) => x.id === 'h1')?.liveness === 'lost', 5000);
  t.is(leader.status().hosts.lost, 1);
  t.is(leader.vms().length, 1);
  t.is(leader.hosts().find((x) => x.id === 'h1')!.budgetWatts, budget);
  const place = await leader.place({ vcpus: 1, memoryMiB: 512 }, { dryRun: true });
  t.is(place.host, 'h2', 'a lost host takes no new VM');
  const again = startTestHost(t, hub, 'h1', { vms: [{ uuid: uuidOf(1), cpuUtil: 0.2 }] });
  await registered(again);
  await waitFor('h1 up', () => leader.hosts().find((x) => x.id === 'h1')?.liveness === 'up');
});

test('the leader emits its role, hosts, decisions and a power sample every tick; metrics count them', async (t) => {
  const { leader, hub } = await startTestLeader(t, await leaderConfig(t));
  const seen = { host: 0, decision: 0, power: [] as number[] };
  leader.events.on('host', () => seen.host++);
  leader.events.on('decision', () => seen.decision++);
  leader.events.on('power', (p) => seen.power.push(p.clusterWatts));
  t.is(leader.status().role, 'leader');
  const h = startTestHost(t, hub, 'h1', { watts: 170 });
  await registered(h);
  await waitFor('a power sample with the host', () => seen.power.includes(170));
  await waitFor('a decision event', () => seen.decision > 0);
  t.true(seen.host >= 1);
  const m = await leader.registry.metrics();
  t.regex(m, /vmanage_leader_decisions_total\{kind="set-host-budget"\} [1-9]/);
  t.regex(m, /vmanage_leader_host_power_watts\{host="h1"\} 170/);
  t.regex(m, /vmanage_leader_is_leader 1/);
  t.regex(m, /vmanage_leader_registrations_total 1/);
});

test('in dry-run mode budget decisions are journaled once as dry-run and no host receives a budget', async (t) => {
  const { leader, hub } = await startTestLeader(t, await leaderConfig(t, { dryRun: true, cluster: { budgetWatts: 500 } }));
  const h1 = startTestHost(t, hub, 'h1', { watts: 250 });
  const h2 = startTestHost(t, hub, 'h2', { watts: 110 });
  await registered(h1);
  await registered(h2);
  await waitFor('a split on measured demand', () => (leader.budgets().hosts.find((x) => x.host === 'h1')?.demandWatts ?? 0) >= 250);
  await new Promise((r) => setTimeout(r, 300)); // the demand settles (demand shifts re-split at once)
  t.true(new Set(leader.decisions({ limit: 50 }).map((d) => d.target)).size === 2);
  const n = leader.decisions({ limit: 100 }).length;
  await new Promise((r) => setTimeout(r, 600)); // three more splits
  t.is(leader.decisions({ limit: 100 }).length, n, 'the same dry-run decision is not journaled again');
  t.true(leader.decisions({ limit: 100 }).every((d) => d.outcome === 'dry-run'));
  t.deepEqual([h1.budgets, h2.budgets], [[], []]);
  t.true(leader.budgets().hosts.every((b) => b.budgetWatts === 100), 'budgets in force stay at the floor');
});

test('a cluster budget below the hosts\' idle power scales the floors down and the split stays within it', async (t) => {
  const { leader, hub } = await startTestLeader(t, await leaderConfig(t, { cluster: { budgetWatts: 150 } }));
  const hosts = [startTestHost(t, hub, 'h1'), startTestHost(t, hub, 'h2')];
  for (const h of hosts) await registered(h);
  await waitFor('budgets', () => hosts.every((h) => h.budgets.length > 0));
  t.true(leader.budgets().hosts.reduce((a, b) => a + b.budgetWatts, 0) <= 150);
});
