// Fencing with real processes: a host daemon that has seen the etcd leader's token refuses the
// budgets of a leader whose term is older. The older leader here is a vmanage-leader process that
// leads on its own (no etcd section: its token is its local SQLite term, 1) — a split brain by
// configuration. When the etcd leader dies (kill -9) the host fails over to it; the old-term
// leader's registration reply carries token 1, older than the newest the host has seen: the host
// counts it (leader_stale_tokens), closes that session and tries the next endpoint, so it never
// takes the old term's budgets and keeps the budget of the newer term.
import test from 'ava';
import { Etcd3 } from 'etcd3';
import { startEtcd } from '../support/etcd.js';
import { tempDir, waitFor } from '../support/proc.js';
import { electedAfter, lines, servedBy, socketOf, startHost, startLeaderProcess, type LeaderSpec } from './support.js';

test.serial('budgets from a leader with an older term are refused by the host daemon and counted', async (t) => {
  const dir = await tempDir(t, 'vmanage-fence-');
  const etcd = await startEtcd(t);
  // Some history in etcd, so the election revision is clearly above the local term's 1.
  const client = new Etcd3({ hosts: etcd.url });
  for (let i = 0; i < 5; i++) await client.put(`vmanage/test/history/${i}`).value('x');
  client.close();
  const n: LeaderSpec = { id: 'leader-n', dir, etcd: etcd.url, budgetWatts: 360 };
  const o: LeaderSpec = { id: 'leader-old', dir, budgetWatts: 130 };
  const t0 = Date.now();
  const pn = await startLeaderProcess(t, n);
  const en = await electedAfter(pn, t0);
  const po = await startLeaderProcess(t, o);
  const eo = await electedAfter(po, t0);
  t.true(eo.token < en.token, `local term ${eo.token} < election revision ${en.token}`);
  const host = await startHost(t, [socketOf(n), socketOf(o)]);
  await servedBy(host, en.token, 0, 60_000);
  const budgetBefore = (await host.status()).power?.budgetWatts;
  t.is(budgetBefore, 200, 'the etcd leader gave the host its cap');

  process.kill(pn.pid, 'SIGKILL');
  // The host reaches the old-term leader, which registers it and answers with token 1: refused.
  await waitFor('the old-term leader to register h1', () => lines(po, 'leader.host-registered').some((l) => l['host'] === 'h1'), 20_000);
  const stale = await waitFor('refused stale registration replies', async () => {
    const s = await host.status();
    return (s.counters['leader_stale_tokens'] ?? 0) >= 2 ? s : undefined;
  }, 20_000);
  t.log(`old-term leader (token ${eo.token}): the host refused ${stale.counters['leader_stale_tokens']} replies and kept ${String(stale.power?.budgetWatts)} W from token ${en.token}`);
  t.is(stale.counters['leader_registrations'], 1, 'registered with the etcd leader only');
  t.is(stale.power?.budgetWatts, budgetBefore);
  t.is(stale.power?.budgetSource, 'last-known', 'no leader since the etcd leader died');
});
