// The data-centre budget across two clusters: two real leader cores, each with its own hosts
// (the real LeaderLink), coordinating through a real etcd: shares fit the data-centre budget,
// follow demand, reach the hosts, and a cluster that leaves hands its watts to the other.
import test from 'ava';
import { Etcd3 } from 'etcd3';
import { systemClock } from '../../src/adapters/clock.js';
import { DcBudgetStore } from '../../src/adapters/etcd/dc-budget.js';
import { clusterAggregate, startDcCoordinator, type DcStore } from '../../src/daemons/leader/dc.js';
import { budgetSplitDefaults } from '../../src/domain/leader/budget-split.js';
import { startEtcd } from '../support/etcd.js';
import { waitFor } from '../support/proc.js';
import { leaderConfig, memoryHub, quiet, registered, startTestHost, startTestLeader, uuidOf } from './support.js';

const params = { ...budgetSplitDefaults, hysteresisWatts: 0 };

async function cluster(t: Parameters<typeof leaderConfig>[0], id: string, watts: number[]) {
  const cfg = await leaderConfig(t, { id, cluster: { budgetWatts: 1000 } });
  const { leader, hub } = await startTestLeader(t, cfg, memoryHub(id));
  const hosts = watts.map((w, i) => startTestHost(t, hub, `${id}-h${i}`, { watts: w, vms: [{ uuid: uuidOf(i + 1), cpuUtil: w > 200 ? 0.9 : 0.1 }] }));
  for (const h of hosts) await registered(h);
  return { leader, hosts };
}

test('two clusters share a data-centre budget through etcd: the shares fit, follow demand, reach the hosts, and a leaving cluster hands its watts over', async (t) => {
  const etcd = await startEtcd(t);
  const clients = [new Etcd3({ hosts: etcd.url }), new Etcd3({ hosts: etcd.url })];
  t.teardown(() => clients.forEach((c) => c.close()));
  // east runs hot (two hosts near peak), west idles.
  const east = await cluster(t, 'east', [280, 270]);
  const west = await cluster(t, 'west', [120, 110]);
  await waitFor('demand seen', () => east.leader.budgets().hosts.every((h) => h.measuredWatts !== undefined) && west.leader.budgets().hosts.every((h) => h.measuredWatts !== undefined));
  // Less than the two clusters want together (east alone could use 600 W: two 300 W hosts).
  const total = 700;
  const coord = (api: typeof east.leader, name: string, client: Etcd3) => {
    const store: DcStore = new DcBudgetStore(client, { dc: 'dc1', cluster: name, ttlSeconds: 2 });
    const c = startDcCoordinator({ api, store, totalWatts: total, periodMs: 60_000, params, clock: systemClock, log: quiet });
    t.teardown(() => c.stop());
    return c;
  };
  const ce = coord(east.leader, 'east', clients[0]!);
  const cw = coord(west.leader, 'west', clients[1]!);
  // Two rounds each: the first publishes, the second sees the other's entry.
  for (let i = 0; i < 2; i++) {
    await ce.round();
    await cw.round();
  }
  await ce.round();
  const e = east.leader.status().clusterBudgetWatts;
  const w = west.leader.status().clusterBudgetWatts;
  t.is(ce.counters.errors + cw.counters.errors, 0);
  t.true(e + w <= total + 0.5, `shares ${e} + ${w} over ${total}`);
  t.true(e > w, `the hot cluster gets more: east ${e} W, west ${w} W`);
  const aggE = clusterAggregate(east.leader);
  t.true(e >= aggE.floorWatts - 0.5, `east ${e} W at least its floors ${aggE.floorWatts} W`);
  // The share is split over the cluster's hosts and pushed to them.
  await waitFor('east hosts get budgets within the share', () => {
    const got = east.hosts.map((h) => h.state.budgetWatts);
    return got.every((b) => b > 0) && got.reduce((a, b) => a + b, 0) <= e + 0.5;
  });
  // west leaves (its leader stops coordinating: the lease goes at once): east takes the total.
  await cw.stop();
  await ce.round();
  const after = east.leader.status().clusterBudgetWatts;
  t.true(after > e, `east ${e} W -> ${after} W once west left`);
  t.true(after <= Math.max(total, aggE.capWatts) + 0.5);
});

test('a round while etcd is unreachable keeps the last share and is counted', async (t) => {
  const { leader, hosts } = await cluster(t, 'solo', [200]);
  void hosts;
  let fail = false;
  const store: DcStore = {
    async publish() { if (fail) throw new Error('etcd unreachable'); },
    async share() { return { watts: 700, split: { budgets: new Map([['solo', 700]]) } }; },
    async close() {},
  };
  const c = startDcCoordinator({ api: leader, store, totalWatts: 1500, periodMs: 60_000, params, clock: systemClock, log: quiet });
  t.teardown(() => c.stop());
  await c.round();
  t.is(leader.status().clusterBudgetWatts, 700);
  fail = true;
  await c.round();
  t.is(c.counters.errors, 1);
  t.is(leader.status().clusterBudgetWatts, 700);
});
