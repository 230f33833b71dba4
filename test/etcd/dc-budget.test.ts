import test from 'ava';
import fc from 'fast-check';
import { Etcd3 } from 'etcd3';
import { DcBudgetStore, parseEntry } from '../../src/adapters/etcd/dc-budget.js';
import { budgetSplitDefaults } from '../../src/domain/leader/budget-split.js';
import { isVmanageError } from '../../src/domain/errors.js';
import { startEtcd } from '../support/etcd.js';
import { waitFor } from '../support/proc.js';

const p = { ...budgetSplitDefaults, hysteresisWatts: 0 };
const c1 = { floorWatts: 1000, capWatts: 3000, demandWatts: 2500 };
const c2 = { floorWatts: 500, capWatts: 1500, demandWatts: 600 };

async function clients(t: Parameters<typeof startEtcd>[0], n: number): Promise<Etcd3[]> {
  const etcd = await startEtcd(t);
  const list = Array.from({ length: n }, () => new Etcd3({ hosts: etcd.url }));
  t.teardown(() => list.forEach((c) => c.close()));
  return list;
}

test('two cluster leaders publish their demand and compute shares that agree and fit the total', async (t) => {
  const [a, b] = await clients(t, 2);
  const sa = new DcBudgetStore(a!, { dc: 'dc1', cluster: 'east', ttlSeconds: 5 });
  const sb = new DcBudgetStore(b!, { dc: 'dc1', cluster: 'west', ttlSeconds: 5 });
  t.teardown(() => Promise.all([sa.close(), sb.close()]));
  await sa.publish(c1, 1000);
  await sb.publish(c2, 1000);
  t.deepEqual((await sa.consumers()).map((c) => c.id), ['east', 'west']);
  const ea = await sa.share(3500, c1, p);
  const wb = await sb.share(3500, c2, p);
  t.deepEqual([...ea.split.budgets], [...wb.split.budgets]);
  t.true(ea.watts + wb.watts <= 3500);
  t.true(ea.watts >= 2500 && wb.watts >= 600, `${ea.watts} ${wb.watts}`);
});

test('a cluster that withdraws (or whose leader dies) drops out and the others get its watts', async (t) => {
  const [a, b] = await clients(t, 2);
  const sa = new DcBudgetStore(a!, { dc: 'dc1', cluster: 'east', ttlSeconds: 2 });
  const sb = new DcBudgetStore(b!, { dc: 'dc1', cluster: 'west', ttlSeconds: 2 });
  t.teardown(() => sa.close());
  await sa.publish(c1, 1000);
  await sb.publish(c2, 1000);
  const before = (await sa.share(3000, c1, p)).watts;
  await sb.close();
  const after = (await sa.share(3000, c1, p)).watts;
  t.true(after > before, `${before} -> ${after}`);
  t.is(after, 3000);
  // A leader that stops renewing (its process died): the entry goes with the lease TTL.
  const lease = b!.lease(2);
  await lease.put('vmanage/dc/dc1/clusters/west').value(JSON.stringify({ ...c2, at: 2000 }));
  t.is((await sa.consumers()).length, 2);
  lease.release();
  await waitFor('the dead cluster\'s entry to expire', async () => (await sa.consumers()).length === 1, 10_000, 200);
  t.pass();
});

test('malformed entries are skipped and counted; our own missing entry is stood in for', async (t) => {
  const [a] = await clients(t, 1);
  const s = new DcBudgetStore(a!, { dc: 'dc1', cluster: 'east' });
  t.teardown(() => s.close());
  await a!.put('vmanage/dc/dc1/clusters/bad-json').value('{not json');
  await a!.put('vmanage/dc/dc1/clusters/negative').value(JSON.stringify({ floorWatts: -1, capWatts: 5, demandWatts: 1, at: 0 }));
  await a!.put('vmanage/dc/dc1/clusters/huge').value('x'.repeat(10_000));
  await a!.put('vmanage/dc/dc1/clusters/ok').value(JSON.stringify({ ...c2, at: 5 }));
  const r = await s.share(2000, c1, p);
  t.deepEqual([...r.split.budgets.keys()], ['ok', 'east']);
  t.is(s.invalidEntries, 3);
  t.true(r.watts >= 1000);
});

test('cluster and data-centre names are checked', (t) => {
  const err = t.throws(() => new DcBudgetStore({} as Etcd3, { dc: '../x', cluster: 'a' }));
  t.true(isVmanageError(err, 'CONFIG_INVALID'));
});

test('property: no string crashes the entry parser', (t) => {
  fc.assert(fc.property(fc.oneof(fc.string(), fc.json()), (s) => {
    const e = parseEntry(s);
    return e === undefined || (Number.isFinite(e.floorWatts) && e.floorWatts >= 0);
  }));
  t.pass();
});
