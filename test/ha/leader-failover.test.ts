// Leader HA with real processes: a real etcd, two vmanage-leader processes campaigning in one
// election, and a real vmanage-mvm host daemon that knows both leader endpoints.
//  - kill -9 of the leader: the standby leads within 5 s, the host registers with it under a larger
//    fencing token and runs under its budget;
//  - SIGTERM: the leader resigns and the standby leads at once;
//  - SIGSTOP past the lease TTL: the standby takes over; after SIGCONT the old leader stops leading
//    at once and does not lead again while the other does, and the host moves to the new leader;
//  - a partition between the leader and etcd: the leader stops leading before the standby starts.
// Figures are printed with t.log (docs/ha.md quotes them).
import test from 'ava';
import { startEtcd } from '../support/etcd.js';
import { pidAlive, tempDir, waitFor, type Started } from '../support/proc.js';
import {
  budgetsTaken, electedAfter, lines, partitionableProxy, servedBy, socketOf, startHost, startLeaderProcess, TTL, type LeaderSpec,
} from './support.js';

test.serial('the standby leads within 5 s of a kill -9 and a SIGTERM hands over at once; the host follows with a larger token each time', async (t) => {
  const dir = await tempDir(t, 'vmanage-ha-');
  const etcd = await startEtcd(t);
  const a: LeaderSpec = { id: 'leader-a', dir, etcd: etcd.url };
  const b: LeaderSpec = { id: 'leader-b', dir, etcd: etcd.url };
  const t0 = Date.now();
  let pa: Started = await startLeaderProcess(t, a);
  const ea = await electedAfter(pa, t0);
  const pb = await startLeaderProcess(t, b);
  t.is(lines(pb, 'leader.elected').length, 0, 'the second process stands by');
  const host = await startHost(t, [socketOf(a), socketOf(b)]);
  await servedBy(host, ea.token, 0, 60_000);

  // 1. kill -9 of the leader.
  let before = await budgetsTaken(host);
  const killedAt = Date.now();
  process.kill(pa.pid, 'SIGKILL');
  const eb = await electedAfter(pb, killedAt, 15_000);
  const failoverMs = eb.time - killedAt;
  const backMs = (await servedBy(host, eb.token, before)) - killedAt;
  t.log(`kill -9: standby elected after ${failoverMs} ms (TTL ${TTL} s), host registered with it after ${backMs} ms; token ${ea.token} -> ${eb.token}`);
  t.true(failoverMs < 5000, `failover took ${failoverMs} ms`);
  t.true(eb.token > ea.token);

  // 2. SIGTERM: the leader resigns, the (restarted) standby leads at once.
  pa = await startLeaderProcess(t, a);
  before = await budgetsTaken(host);
  const termAt = Date.now();
  process.kill(pb.pid, 'SIGTERM');
  const ea2 = await electedAfter(pa, termAt, 10_000);
  const handoverMs = ea2.time - termAt;
  const back2Ms = (await servedBy(host, ea2.token, before)) - termAt;
  t.log(`SIGTERM: standby elected after ${handoverMs} ms, host registered with it after ${back2Ms} ms; token ${eb.token} -> ${ea2.token}`);
  t.true(handoverMs < 1500, `hand-over took ${handoverMs} ms`);
  t.true(ea2.token > eb.token);
  await waitFor('the resigned leader to exit', () => !pidAlive(pb.pid), 10_000);

});

test.serial('a leader frozen past its lease TTL is replaced; after SIGCONT it stops leading at once, stays a standby, and its host follows to the new leader', async (t) => {
  const dir = await tempDir(t, 'vmanage-ha-');
  const etcd = await startEtcd(t);
  const a: LeaderSpec = { id: 'leader-a', dir, etcd: etcd.url };
  const b: LeaderSpec = { id: 'leader-b', dir, etcd: etcd.url };
  const t0 = Date.now();
  const pa = await startLeaderProcess(t, a);
  const ea = await electedAfter(pa, t0);
  const pb = await startLeaderProcess(t, b);
  const host = await startHost(t, [socketOf(a), socketOf(b)]);
  await servedBy(host, ea.token, 0, 60_000);
  const before = await budgetsTaken(host);
  const stoppedAt = Date.now();
  process.kill(pa.pid, 'SIGSTOP');
  t.teardown(() => void (pidAlive(pa.pid) && process.kill(pa.pid, 'SIGCONT')));
  const eb = await electedAfter(pb, stoppedAt, 15_000);
  t.true(eb.token > ea.token);
  const contAt = Date.now();
  process.kill(pa.pid, 'SIGCONT');
  const deposed = await waitFor('the frozen leader to see it was deposed', () => lines(pa, 'leader.deposed').find((l) => l.time >= contAt), 15_000, 20);
  const deposedMs = deposed.time - contAt;
  const backMs = (await servedBy(host, eb.token, before)) - contAt;
  t.log(`SIGSTOP for ${contAt - stoppedAt} ms: standby elected after ${eb.time - stoppedAt} ms (TTL ${TTL} s); after SIGCONT the old leader was deposed in ${deposedMs} ms (${String(deposed['reason'])}) and the host was with the new leader after ${backMs} ms`);
  t.true(deposedMs < 1000, `deposed ${deposedMs} ms after SIGCONT`);
  // It campaigns again, and stays a standby while the other leads (two lease periods).
  await new Promise((r) => setTimeout(r, 2 * TTL * 1000));
  t.false(lines(pa, 'leader.elected').some((l) => l.time >= contAt), 'the old leader did not lead again');
  t.false(lines(pb, 'leader.deposed').length > 0, 'the new leader kept leading');
  t.is((await host.status()).counters['leader_stale_tokens'], 0, 'the old leader sent nothing once the host knew the newer token');
});

test.serial('a leader cut off from etcd stops leading before the standby is elected', async (t) => {
  const dir = await tempDir(t, 'vmanage-ha-');
  const etcd = await startEtcd(t);
  const proxy = await partitionableProxy(t, new URL(etcd.url));
  const a: LeaderSpec = { id: 'leader-a', dir, etcd: proxy.url };
  const b: LeaderSpec = { id: 'leader-b', dir, etcd: etcd.url };
  const t0 = Date.now();
  const pa = await startLeaderProcess(t, a);
  const ea = await electedAfter(pa, t0);
  const pb = await startLeaderProcess(t, b);
  await new Promise((r) => setTimeout(r, 1500)); // a few lease confirmations through the proxy
  const cutAt = Date.now();
  proxy.freeze();
  const eb = await electedAfter(pb, cutAt, 15_000);
  const deposed = await waitFor('the cut-off leader to depose itself', () => lines(pa, 'leader.deposed').find((l) => l.time >= cutAt), 15_000, 20);
  t.log(`partition: leader-a deposed ${deposed.time - cutAt} ms after the cut (${String(deposed['reason'])}), leader-b elected ${eb.time - cutAt} ms after it; token ${ea.token} -> ${eb.token}`);
  t.true(deposed.time < eb.time, 'no moment with two leaders (by the machine clock both logs use)');
  t.true(eb.token > ea.token);
});
