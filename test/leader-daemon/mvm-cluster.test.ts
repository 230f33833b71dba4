// Three real vmanage-mvm processes (libvirt's test driver behind libvirt-dbus, the sim power sensor,
// powerd on a private bus) connected over unix sockets to a real vmanage-leader process: each
// registers with its power table and migration URI, the leader splits the cluster budget over
// them (sum within the budget, each at least its idle power) and each host daemon runs under the
// leader's budget; a host daemon that stops is reported lost by the leader.
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { requestStatus } from '../../src/cli/vmanagectl.js';
import type { MvmStatus } from '../../src/daemons/mvm/mvm.js';
import { powerSection, startLibvirt, startMvmDaemon, startPowerd } from '../mvm/support.js';
import { startProcess, tempDir, waitFor } from '../support/proc.js';

const root = new URL('../..', import.meta.url).pathname;

function logLines(out: string, event: string): Record<string, unknown>[] {
  return out.split('\n').filter((l) => l.includes(`"event":"${event}"`)).map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('three host daemons register with the leader process and run under the budgets it splits; a stopped one is lost', async (t) => {
  const dir = await tempDir(t, 'vmanage-leader-cluster-');
  const sock = join(dir, 'leader.sock');
  const file = join(dir, 'leader.yaml');
  const CLUSTER = 480;
  writeFileSync(file, stringify({
    id: 'cl1', listen: { unix: sock }, store: { path: join(dir, 'leader.db') }, http: { port: 0 }, cluster: { budgetWatts: CLUSTER },
    periods: { tickMs: 200, splitMs: 500, auditMs: 60_000 }, failure: { hostTimeoutMs: 2000 }, log: { level: 'info' },
  }));
  const leader = await startProcess(t, process.execPath, ['--import', 'tsx', join(root, 'src/daemons/leader/main.ts'), '--config', file], {
    cwd: root, ready: /vmanage-leader ready/, readyTimeoutMs: 60_000,
  });
  const pd = await startPowerd(t);
  const lv = await startLibvirt(t);
  const utils = [0.9, 0.3, 0.1];
  const mvms = await Promise.all(utils.map((u, i) => startMvmDaemon(t, lv, {
    host: `h${i + 1}`,
    power: powerSection(pd.address, u, { budget: { watts: 200, safeWatts: 150 } }),
    leader: { endpoint: { unix: sock }, updateMs: 200, migrationUri: `test+tcp://h${i + 1}/default`, platformRoot: null },
  })));
  await waitFor('three registrations', () => logLines(leader.output(), 'leader.host-registered').length >= 3, 60_000);
  const regs = logLines(leader.output(), 'leader.host-registered');
  t.deepEqual([...new Set(regs.map((r) => String(r['host'])))].sort(), ['h1', 'h2', 'h3']);
  t.true(regs.every((r) => typeof r['migrationUri'] === 'string' && r['capWatts'] === 200));
  const status = async (i: number): Promise<MvmStatus> => await requestStatus(mvms[i]!.control) as MvmStatus;
  // Each host applies its budget when it arrives: wait until all three run under the current split.
  let last: number[] = [];
  const budgets = await waitFor('every host under a leader budget, together within the cluster budget', async () => {
    const s = await Promise.all([0, 1, 2].map(status));
    last = s.map((x) => Number(x.power?.budgetWatts));
    return s.every((x) => x.power?.budgetSource === 'leader') && last.reduce((a, b) => a + b, 0) <= CLUSTER ? last : undefined;
  }, 30_000).catch((err: Error) => { throw new Error(`${err.message}; last budgets ${last.join(', ')}`); });
  for (const b of budgets) t.true(b >= 100, `budgets ${budgets.join(', ')}`);
  const decisions = logLines(leader.output(), 'leader.decision').filter((d) => d['kind'] === 'set-host-budget');
  t.true(decisions.length >= 3);
  await mvms[2]!.proc.stop('SIGTERM');
  await waitFor('h3 lost', () => logLines(leader.output(), 'leader.host-lost').some((l) => l['host'] === 'h3'), 20_000);
  t.false(logLines(leader.output(), 'leader.host-lost').some((l) => l['host'] !== 'h3'));
});
