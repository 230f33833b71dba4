// The leader's configuration: the example in docs parses, defaults apply, every problem is named
// as `path: what is wrong` (policy overrides checked with each policy bundle's own schema), and
// the real vmanage-leader exits 2 on a bad file and 0 on --check-config of a good one.
import test from 'ava';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { parseLeaderConfig } from '../../src/daemons/leader/config.js';
import { migrationDefaults } from '../../src/domain/leader/migration.js';
import { tempDir } from '../support/proc.js';

const root = new URL('../..', import.meta.url).pathname;
const run = promisify(execFile);
const minimal = { id: 'cl1', listen: { unix: '/run/vmanage/leader.sock' }, store: { path: '/var/lib/vmanage/leader.db' }, cluster: { budgetWatts: 5000 } };

test('the example configuration in docs parses', async (t) => {
  const cfg = parseLeaderConfig(parse(await readFile(join(root, 'docs/leader.example.yaml'), 'utf8')), 'docs/leader.example.yaml');
  t.is(cfg.id, 'leader-a');
  t.is(cfg.params.migration.stability.maxPerCluster, 10);
  t.is(cfg.params.migration.stability.maxPerHost, 2);
  t.is(cfg.params.migration.stability.noReturnMs, migrationDefaults.stability.noReturnMs, 'an override keeps the other defaults');
  t.truthy(cfg.hosts['node-07']?.bmc);
});

test('a minimal configuration gets the documented defaults', (t) => {
  const cfg = parseLeaderConfig(minimal);
  t.deepEqual(cfg.http, { host: '127.0.0.1', port: 8470 });
  t.deepEqual(cfg.periods, { tickMs: 1000, splitMs: 5000, auditMs: 30_000 });
  t.is(cfg.failure.hostTimeoutMs, 15_000);
  t.false(cfg.dryRun);
  t.deepEqual(cfg.params.migration, migrationDefaults);
});

const bad: [string, Record<string, unknown>, string[]][] = [
  ['a missing id and a relative store path', { ...minimal, id: undefined, store: { path: 'leader.db' } }, ['id:', 'store.path:']],
  ['a negative cluster budget', { ...minimal, cluster: { budgetWatts: -1 } }, ['cluster.budgetWatts:']],
  ['an unknown top-level key', { ...minimal, colour: 'blue' }, ['(root):']],
  ['a policy override of the wrong type', { ...minimal, policies: { budget: { marginWatts: 'five' } } }, ['policies.budget.marginWatts:']],
  ['a policy override breaking a cross-field rule', { ...minimal, policies: { migration: { overloadUtil: 0.5 } } }, ['policies.migration.placement.cpuThreshold:']],
  ['an unknown policy parameter', { ...minimal, policies: { placement: { speed: 3 } } }, ['policies.placement:']],
  ['a TLS listener without its key', { ...minimal, listen: { tls: { port: 1, ca: '/a', cert: '/b' } } }, ['listen']],
];

for (const [what, raw, paths] of bad) {
  test(`a configuration with ${what} is refused naming ${paths.join(' and ')}`, (t) => {
    const err = t.throws(() => parseLeaderConfig(raw, 'leader.yaml'), { code: 'CONFIG_INVALID' });
    for (const p of paths) t.true(err!.message.includes(p), err!.message);
  });
}

test('vmanage-leader exits 2 naming the problem for a bad file, 0 with --check-config for a good one, and documents its default config path', async (t) => {
  const dir = await tempDir(t);
  const badFile = join(dir, 'bad.yaml');
  await writeFile(badFile, 'id: x\nlisten: {unix: rel}\n');
  const main = join(root, 'src/daemons/leader/main.ts');
  const err = await t.throwsAsync(run(process.execPath, ['--import', 'tsx', main, '--config', badFile], { cwd: root })) as Error & { code: number; stderr: string };
  t.is(err.code, 2);
  t.regex(err.stderr, /listen/);
  t.regex(err.stderr, /store/);
  const good = join(dir, 'good.yaml');
  await writeFile(good, JSON.stringify({ ...minimal, store: { path: join(dir, 'l.db') } }));
  const ok = await run(process.execPath, ['--import', 'tsx', main, '--config', good, '--check-config'], { cwd: root });
  t.regex(ok.stdout, /OK/);
  const help = await run(process.execPath, ['--import', 'tsx', main, '--help'], { cwd: root });
  t.regex(help.stdout, /--check-config/);
  t.regex(help.stdout, /\/etc\/vmanage\/leader\.yaml/);
});
