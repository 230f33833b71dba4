// vmanagectl as a process (bundled as the package ships it: one CommonJS file) against a running
// leader (real core, hosts over the real LeaderLink, HTTP API): --json parsed, tables checked,
// actions with --dry-run, exit codes, and a clear message for a leader that is not there.
import test from 'ava';
import { join } from 'node:path';
import type { ActionAnswer, DecisionView, HostView, LeaderStatus, PlaceAnswer, VmView } from '../../src/daemons/leader/api.js';
import { freePort, tempDir } from '../support/proc.js';
import { startCluster, uuidOf, type Cluster } from '../leader-http/support.js';
import { ctl, ctlBundle, json } from './support.js';

test.before(async () => { await ctlBundle(); });

async function cluster(t: Parameters<typeof startCluster>[0]): Promise<Cluster> {
  return startCluster(t, { hosts: { h1: [{ uuid: uuidOf(1), cpuUtil: 0.6 }, { uuid: uuidOf(2), cpuUtil: 0.2 }], h2: [{ uuid: uuidOf(3), cpuUtil: 0.1 }] } });
}

test('the read commands print tables, or the API\'s JSON with --json', async (t) => {
  const c = await cluster(t);
  const L = ['--leader', c.url];
  const hosts = await ctl(['hosts', ...L]);
  t.is(hosts.code, 0, hosts.err);
  t.regex(hosts.out, /^HOST\s+LIVENESS\s+STATE\s+POWER\s+BUDGET/);
  t.regex(hosts.out, /^h1\s+up\s+on\s+150W\s+\d+W/m);
  t.deepEqual(json<HostView[]>(await ctl(['hosts', '--json', ...L])).map((h) => h.id).sort(), ['h1', 'h2']);

  const vms = await ctl(['vms', ...L]);
  t.regex(vms.out, new RegExp(`^${uuidOf(3)}\\s+-\\s+h2\\s+2\\s+1024MiB\\s+10%\\s+ok`, 'm'));
  t.is(json<VmView[]>(await ctl(['vms', '--json', ...L])).length, 3);

  // Through $VMANAGE_LEADER instead of --leader.
  const status = await ctl(['status', '--json'], { VMANAGE_LEADER: c.url });
  t.is(status.code, 0, status.err);
  t.like(json<LeaderStatus>(status), { id: 'cl1', role: 'leader', vms: 3 });
  t.regex((await ctl(['status', ...L])).out, /^leader\s+cl1 \(leader\)$/m);

  t.regex((await ctl(['budgets', ...L])).out, /^cluster budget 1000W/);
  const decisions = json<DecisionView[]>(await ctl(['decisions', '--limit', '5', '--json', ...L]));
  t.true(decisions.length > 0 && decisions.length <= 5);
  const id = (decisions[0] as DecisionView).id;
  const explain = await ctl(['explain', String(id), ...L]);
  t.regex(explain.out, new RegExp(`^decision  #${id} set-host-budget h[12]`, 'm'));
  t.regex(explain.out, /^reason\s+.+\[/m);
  t.regex((await ctl(['migrations', ...L])).out, /^ID\s+VM\s+FROM\s+TO\s+STATE/);
});

test('actions take --dry-run, answer what they did, and exit 3 when the leader refuses', async (t) => {
  const c = await cluster(t);
  const L = ['--leader', c.url];
  const dry = await ctl(['budgets', 'set', '400', '--dry-run', ...L]);
  t.is(dry.code, 0, dry.err);
  t.regex(dry.out, /^\(dry run\) would do: cluster budget 1000 W -> 400 W/);
  t.is(c.leader.status().clusterBudgetWatts, 1000);
  const set = json<ActionAnswer>(await ctl(['budgets', 'set', '400', '--json', ...L]));
  t.like(set, { done: true, dryRun: false });
  t.is(c.leader.status().clusterBudgetWatts, 400);

  const place = json<PlaceAnswer>(await ctl(['place', '--vcpus', '2', '--memory', '1024', '--sla', 'gold', '--dry-run', '--json', ...L]));
  t.like(place, { placed: true, dryRun: true });
  const noRoom = await ctl(['place', '--vcpus', '1000', '--memory', '1024', ...L]);
  t.is(noRoom.code, 3, noRoom.out + noRoom.err);
  t.regex(noRoom.out, /^not placed: /);

  const drain = await ctl(['drain', 'h2', ...L]);
  t.is(drain.code, 0, drain.out + drain.err);
  t.regex(drain.out, /^done: /);
  t.is(c.leader.hosts().find((h) => h.id === 'h2')?.state, 'draining');
  t.is((await ctl(['undrain', 'h2', ...L])).code, 0);
  const migrate = await ctl(['migrate', uuidOf(1), '--to', 'h1', ...L]);
  t.is(migrate.code, 3, 'a VM already on h1 cannot go to h1');
  t.regex(migrate.out, /^refused: .*already runs on h1/);
  const plan = await ctl(['plan', '--dry-run', ...L]);
  t.is(plan.code === 0 || plan.code === 3, true, plan.err);
  t.regex(plan.out, /^\(dry run\) /);
});

test('errors name the URL or the field, with distinct exit codes', async (t) => {
  const c = await cluster(t);
  const L = ['--leader', c.url];
  const port = await freePort();
  const gone = await ctl(['hosts', '--leader', `http://127.0.0.1:${port}`]);
  t.is(gone.code, 1);
  t.is(gone.err, `vmanagectl: cannot reach the leader at http://127.0.0.1:${port}: connection refused\n`);
  const unknownHost = await ctl(['drain', 'nope', ...L]);
  t.is(unknownHost.code, 1);
  t.regex(unknownHost.err, /POST \/api\/hosts\/nope\/drain: unknown host "nope"/);
  const unknownVm = await ctl(['migrate', 'no-such-vm', ...L]);
  t.is(unknownVm.code, 1);
  t.regex(unknownVm.err, /no VM is named "no-such-vm"/);
  const usage = await ctl(['place', '--vcpus', 'two', '--memory', '1', ...L]);
  t.is(usage.code, 2);
  t.regex(usage.err, /--vcpus: expected a whole number/);
  const badUrl = await ctl(['hosts', '--leader', 'ftp://x']);
  t.is(badUrl.code, 2);
  t.regex(badUrl.err, /expected an http:\/\/ or https:\/\/ URL/);
  const budget = await ctl(['budgets', 'set', 'lots', ...L]);
  t.is(budget.code, 2);
  t.regex(budget.err, /usage: vmanagectl budgets set WATTS/);
});

test('--version and the host daemon\'s status still work as the package expects', async (t) => {
  const v = await ctl(['--version']);
  t.is(v.code, 0);
  t.regex(v.out, /^\d+\.\d+\.\d+/);
  const sock = join(await tempDir(t), 'absent.sock');
  const s = await ctl(['status', '--socket', sock], { VMANAGE_LEADER: 'http://127.0.0.1:1' });
  t.is(s.code, 1, 'an explicit --socket asks the host daemon even with $VMANAGE_LEADER set');
  t.regex(s.err, /cannot reach the host daemon at .*absent\.sock: ENOENT/);
});
