// The real vmanage-leader process over TCP + mutual TLS (openssl-made cluster CA): hosts (the real
// LeaderLink) register under their certificate's CN, one claiming another's name is refused;
// after a restart of the process with its SQLite file kept the hosts re-register by themselves,
// the fencing token is larger and the budgets are the ones kept; the process serves its HTTP API.
import test from 'ava';
import Database from 'better-sqlite3';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { systemClock } from '../../src/adapters/clock.js';
import { LeaderLink } from '../../src/adapters/leader-link/link.js';
import { tlsConnector } from '../../src/mchannel/index.js';
import { makeCa, makeLeaf } from '../mchannel/certs.js';
import { freePort, startProcess, tempDir, waitFor, type Teardown } from '../support/proc.js';
import { quiet, registration } from './support.js';

const root = new URL('../..', import.meta.url).pathname;

function startLeaderProcess(t: Teardown, file: string) {
  return startProcess(t, process.execPath, ['--import', 'tsx', join(root, 'src/daemons/leader/main.ts'), '--config', file], {
    cwd: root, ready: /vmanage-leader ready/, readyTimeoutMs: 60_000,
  });
}

function host(t: Teardown, dir: string, caCert: string, port: number, name: string, claim = name, watts = 150) {
  const pem = makeLeaf(dir, 'ca', name);
  const budgets: number[] = [];
  const link = new LeaderLink({
    connector: tlsConnector({ host: '127.0.0.1', port, serverName: 'leader', ca: caCert, cert: pem.cert, key: pem.key }), host: claim,
    clock: systemClock, log: quiet, updateMs: 100, registration: () => registration(claim),
    update: () => ({ ts: Date.now(), watts, budgetWatts: budgets.at(-1) ?? 200, budgetSource: 'leader', capKHz: 3_000_000, reliability: 1, vms: [] }),
    onBudget: (w) => budgets.push(w), onConnection: () => {}, heartbeatMs: 500, deadAfterMs: 2000,
  });
  t.teardown(() => link.stop());
  return { link, budgets };
}

test('hosts register over mTLS under their certificate name; after a restart they re-register, the token is larger and budgets are kept', async (t) => {
  const dir = await tempDir(t, 'vmanage-leader-proc-');
  const caPem = makeCa(dir, 'ca').cert;
  const leaderPem = makeLeaf(dir, 'ca', 'leader', 'leader');
  writeFileSync(join(dir, 'leader.crt'), leaderPem.cert);
  writeFileSync(join(dir, 'leader.key'), leaderPem.key);
  const port = await freePort();
  const db = join(dir, 'leader.db');
  const file = join(dir, 'leader.yaml');
  writeFileSync(file, stringify({
    id: 'cl1', listen: { tls: { host: '127.0.0.1', port, ca: join(dir, 'ca.crt'), cert: join(dir, 'leader.crt'), key: join(dir, 'leader.key') } },
    store: { path: db }, http: { port: 0 }, cluster: { budgetWatts: 600 }, periods: { tickMs: 100, splitMs: 300, auditMs: 60_000 },
    failure: { hostTimeoutMs: 3000 }, log: { level: 'info' },
  }));
  let proc = await startLeaderProcess(t, file);
  const h1 = host(t, dir, caPem, port, 'h1', 'h1', 250);
  const h2 = host(t, dir, caPem, port, 'h2', 'h2', 120);
  const mallory = host(t, dir, caPem, port, 'mallory', 'h1');
  await waitFor('both hosts registered', () => h1.link.registered && h2.link.registered);
  await waitFor('the impostor refused', () => /"event":"leader.registration-refused","kind":"identity"/.test(proc.output()), 20_000);
  t.false(mallory.link.registered);
  const token1 = h1.link.newestToken;
  await waitFor('budgets for both', () => h1.budgets.length > 0 && h2.budgets.length > 0);
  await new Promise((r) => setTimeout(r, 700)); // a few more splits: the budgets settle
  const kept = [h1.budgets.at(-1), h2.budgets.at(-1)];
  t.true((kept[0] ?? 0) + (kept[1] ?? 0) <= 600);
  const counts = [h1.budgets.length, h2.budgets.length];
  await proc.stop('SIGTERM');
  t.regex(proc.output(), /leader stopped/);
  proc = await startLeaderProcess(t, file);
  await waitFor('both hosts registered again with a larger token', () => h1.link.registered && h2.link.registered && h1.link.newestToken > token1 && h2.link.newestToken > token1, 20_000);
  await waitFor('budgets after the restart', () => h1.budgets.length > counts[0]! && h2.budgets.length > counts[1]!);
  t.deepEqual([h1.budgets[counts[0]!], h2.budgets[counts[1]!]], kept, 'the first budget after the restart is the one kept in SQLite');
  // The same process serves the HTTP API and /metrics.
  const ready = proc.output().split('\n').find((l) => l.includes('"event":"leader.ready"'));
  const url = (JSON.parse(ready!) as { http: string }).http;
  const status = await (await fetch(`${url}/api/status`)).json() as { role: string; token: number; hosts: { up: number } };
  t.like(status, { role: 'leader', token: token1 + 1 });
  t.is(status.hosts.up, 2);
  t.regex(await (await fetch(`${url}/metrics`)).text(), /vmanage_leader_is_leader 1/);
  const sql = new Database(db, { readonly: true });
  t.teardown(() => sql.close());
  t.is((sql.prepare('SELECT token FROM leader_term').get() as { token: number }).token, token1 + 1);
  t.deepEqual((sql.prepare('SELECT id FROM hosts ORDER BY id').all() as { id: string }[]).map((r) => r.id), ['h1', 'h2']);
});
