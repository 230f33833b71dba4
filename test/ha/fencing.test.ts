// Fencing with real processes: a host daemon that has seen the etcd leader's token refuses the
// budgets of a leader whose term is older. The older leader here is a vmanage-leader process that
// leads on its own (no etcd section: its token is its local SQLite term, 1) — a split brain by
// configuration. When the etcd leader dies (kill -9) the host fails over to it, and everything it
// sends is refused and counted (leader_stale_tokens), the host keeps the budget of the newer term.
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
  // The host reaches the old-term leader, which registers it and sends budgets under token 1.
  await waitFor('the old-term leader to register h1', () => lines(po, 'leader.host-registered').some((l) => l['host'] === 'h1'), 20_000);
  await waitFor('the old-term leader to decide a budget for h1', () => lines(po, 'leader.decision').some((d) => d['kind'] === 'set-host-budget' && d['target'] === 'h1'), 20_000);
  const stale = await waitFor('refused stale tokens', async () => {
    const s = await host.status();
    return (s.counters['leader_stale_tokens'] ?? 0) >= 2 ? s : undefined;
  }, 20_000);
  const decided = lines(po, 'leader.decision').filter((d) => d['kind'] === 'set-host-budget' && d['target'] === 'h1').map((d) => Number(d['value']));
  t.log(`old-term leader (token ${eo.token}) decided ${decided.join(', ')} W for h1; the host refused ${stale.counters['leader_stale_tokens']} messages and kept ${String(stale.power?.budgetWatts)} W from token ${en.token}`);
  t.false(decided.includes(200), 'the old-term leader wanted another budget');
  t.is(stale.power?.budgetWatts, budgetBefore);
  // 'leader' while the host counts the old-term leader as its connection, 'last-known' around the switch.
  t.true(['leader', 'last-known'].includes(String(stale.power?.budgetSource)), String(stale.power?.budgetSource));
});
