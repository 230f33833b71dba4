// How vmanage-leader is put together from its configuration: the bundled program prints the
// package version (bundled in, not read at run time); join reserves every leader's name; with etcd
// the election's counters are on the leader's /metrics.
import test from 'ava';
import { build } from 'esbuild';
import { execFile } from 'node:child_process';
import { readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import { initCa } from '../../src/adapters/pki/ca.js';
import { joinPluginFor } from '../../src/daemons/leader/join.js';
import { startLeader } from '../../src/daemons/leader/leader.js';
import { termFor } from '../../src/daemons/leader/metrics.js';
import { leaderConfig } from '../leader-daemon/support.js';
import { startEtcd } from '../support/etcd.js';
import { tempDir, waitFor } from '../support/proc.js';
import { call, quiet, startCluster } from './support.js';

test('the bundled vmanage-leader prints the package version', async (t) => {
  // As scripts/package/programs.mjs bundles it: native and proto-reading modules beside it.
  const dir = await tempDir(t, 'vmanage-leader-bundle-');
  const out = join(dir, 'vmanage-leader.mjs');
  symlinkSync(join(process.cwd(), 'node_modules'), join(dir, 'node_modules'));
  await build({
    entryPoints: ['src/daemons/leader/main.ts'], outfile: out, bundle: true, platform: 'node', format: 'esm', target: 'node20', logLevel: 'error',
    external: ['usocket', 'x11', 'better-sqlite3', 'etcd3'],
    banner: { js: "import { createRequire as __req } from 'node:module';\nconst require = __req(import.meta.url);" },
  });
  const want = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
  const got = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, [out, '--version'], { cwd: dir, timeout: 20_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}: ${stderr}`)) : resolve(stdout.trim())));
  });
  t.is(got, want);
});

test('no host may join as this leader or any configured leader name', async (t) => {
  const caDir = join(await tempDir(t, 'vmanage-join-reserved-'), 'ca');
  await initCa(caDir);
  const cfg = await leaderConfig(t, { join: { caDir, reservedNames: ['cl2', 'cl3'] } });
  const plugin = joinPluginFor(cfg, quiet);
  t.truthy(plugin);
  const c = await startCluster(t, { http: { join: plugin! } });
  const ask = (name: string) => call<{ reason: string }>(c.url, 'POST', '/api/join', { name, token: 'not-a-token', csr: 'x' });
  for (const name of ['cl1', 'cl2', 'cl3']) {
    const r = await ask(name);
    t.is(r.status, 403, name);
    t.is(r.body.reason, 'reserved-name', name);
  }
  t.is((await ask('h9')).body.reason, 'token-malformed', 'other names go on to the token check');
  t.deepEqual(plugin!.counters.refused, { 'reserved-name': 3, 'token-malformed': 1 });
});

test('with etcd, the election counters are on the leader registry', async (t) => {
  const etcd = await startEtcd(t);
  const cfg = await leaderConfig(t, { etcd: { endpoints: [etcd.url], name: 'wiring-test', ttlSeconds: 2 } });
  const term = termFor(cfg, quiet);
  const leader = await startLeader(cfg, quiet, term.deps);
  t.teardown(() => leader.stop());
  term.registerMetrics(leader.registry as Registry);
  await waitFor('elected', () => leader.status().role === 'leader', 20_000);
  const text = await (leader.registry as Registry).metrics();
  t.regex(text, /^vmanage_leader_term_elected_total 1$/m);
  t.regex(text, /^vmanage_leader_term_lease_check_failures_total 0$/m);
});
