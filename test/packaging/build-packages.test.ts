// Slow (about 10 s): builds the .debs with scripts/package/build.mjs into a temporary directory
// and checks them with dpkg-deb and lintian. The install into a clean Debian root is
// scripts/test-packaging.sh.
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startProcess, tempDir } from '../support/proc.js';
// @ts-expect-error: a plain ESM module of the build scripts, no type declarations
import { packages, programs } from '../../scripts/package/programs.mjs';

const run = promisify(execFile);
const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

interface Program { name: string; entry: string; pkg: string; file: string; bin: boolean }
interface Spec { depends: string[]; units: string[]; activated: string[]; files: Array<[string, string, number]>; conffiles: Array<[string, string, number]>; user: boolean; rules?: boolean; purgeDirs: string[] }
const table = packages as Record<string, Spec>;
const progs = programs as Program[];

let dir = '';
let built: Promise<string[]> | undefined;
/** Builds once for all tests of this file; resolves with the .deb paths. */
function debs(): Promise<string[]> {
  built ??= (async () => {
    dir = await mkdtemp(join(tmpdir(), 'vmanage-deb-'));
    const { stdout } = await run('node', ['scripts/package/build.mjs', '--out', dir], { maxBuffer: 1 << 20 });
    return stdout.trim().split('\n');
  })();
  return built;
}
test.after.always(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });

const expected = Object.keys(table).filter((name) => progs.some((p) => p.pkg === name && existsSync(p.entry)));

test('a package is built for every package with at least one existing program, and only those (slow)', async (t) => {
  const names = (await debs()).map((d) => /([^/]+)_[^_]+_[^_]+\.deb$/.exec(d)?.[1]);
  t.deepEqual(names.sort(), [...expected].sort());
  t.true(names.includes('vmanage') && names.includes('vmanage-guest-agent') && names.includes('vmanage-cli'));
});

for (const name of expected) {
  test(`${name}: control fields, contents and conffiles follow the table (slow)`, async (t) => {
    const deb = (await debs()).find((d) => d.includes(`/${name}_`))!;
    const field = async (f: string): Promise<string> => (await run('dpkg-deb', ['-f', deb, f])).stdout.trim();
    t.is(await field('Version'), version);
    t.is(await field('Depends'), table[name]!.depends.join(', ').replaceAll('@VERSION@', version));
    const listing = (await run('dpkg-deb', ['-c', deb], { maxBuffer: 16 << 20 })).stdout;
    const paths = new Set(listing.split('\n').map((l) => /\.(\/\S*)/.exec(l)?.[1]).filter((p): p is string => !!p));
    const want = [
      ...progs.filter((p) => p.pkg === name && existsSync(p.entry)).flatMap((p) => [`/usr/lib/vmanage/${p.file}`, ...(p.bin ? [`/usr/bin/${p.name}`] : [])]),
      ...[...table[name]!.units, ...table[name]!.activated].map((u) => `/usr/lib/systemd/system/${u}`),
      ...table[name]!.files.map(([, to]) => (/\/man\/man\d\//.test(to) ? `${to}.gz` : to)),
      ...table[name]!.conffiles.map(([, to]) => to),
      `/usr/share/doc/${name}/copyright`, `/usr/share/doc/${name}/changelog.gz`,
    ];
    for (const p of want) t.true(paths.has(p), `${name} lacks ${p}`);
    t.false([...paths].some((p) => p.includes('/node_modules/') && !p.endsWith('.node') && name !== 'vmanage-leader'), 'no node_modules tree');
    const ctl = join(dir, `${name}.control`);
    await run('dpkg-deb', ['-e', deb, ctl]);
    const conffiles = existsSync(join(ctl, 'conffiles')) ? readFileSync(join(ctl, 'conffiles'), 'utf8').trim().split('\n') : [];
    t.deepEqual(conffiles, table[name]!.conffiles.map(([, to]) => to));
    // A package with nothing to set up (the CLI) has no maintainer scripts; the others have all three.
    const spec = table[name]!;
    const scripted = spec.units.length + spec.activated.length > 0 || spec.user || spec.rules === true || spec.purgeDirs.length > 0;
    t.is(existsSync(join(ctl, 'postinst')), scripted);
    for (const s of scripted ? ['postinst', 'prerm', 'postrm'] : []) {
      const text = readFileSync(join(ctl, s), 'utf8');
      t.notRegex(text, /@[A-Z_]+@/, `${s} has an unfilled placeholder`);
      await t.notThrowsAsync(run('sh', ['-n', join(ctl, s)]), `${s} is not valid sh`);
    }
  });
}

test('the bundled programs run from an unpacked package, outside the repository (slow)', async (t) => {
  const all = await debs();
  const root = join(dir, 'unpacked');
  for (const d of all) await run('dpkg-deb', ['-x', d, root]);
  t.is((await run('node', [join(root, 'usr/lib/vmanage/vmanagectl.cjs'), '--version'])).stdout.trim(), version);
  t.regex((await run('node', [join(root, 'usr/lib/vmanage/vmanage-agent.js'), '--help'])).stdout, /--config/);
  // powerd (ESM with bundled CommonJS dependencies) gets as far as reading its configuration.
  const powerd = await run('node', [join(root, 'usr/lib/vmanage/vmanage-powerd.mjs'), '--config', join(dir, 'absent.yaml')]).catch((e: { code: number; stderr: string }) => e);
  t.like(powerd, { code: 2 });
  t.regex((powerd as { stderr: string }).stderr, /absent\.yaml/);
});

test('the leader runs from its unpacked package on its SQLite store (shipped better-sqlite3 and etcd3 trees), and accepts its shipped config (slow)', async (t) => {
  const all = await debs();
  const root = join(dir, 'unpacked-leader');
  for (const d of all.filter((x) => /\/vmanage-leader_/.test(x))) await run('dpkg-deb', ['-x', d, root]);
  const js = join(root, 'usr/lib/vmanage/vmanage-leader.mjs');
  const check = await run('node', [js, '--config', join(root, 'etc/vmanage/leader.yaml'), '--check-config']);
  t.regex(check.stdout, /: OK/);
  const work = await tempDir(t, 'vmanage-leader-pkg-');
  const cfg = join(work, 'leader.yaml');
  await writeFile(cfg, `id: t\nlisten: { unix: ${join(work, 'leader.sock')} }\nstore: { path: ${join(work, 'leader.db')} }\nhttp: { host: 127.0.0.1, port: 0 }\ncluster: { budgetWatts: 1000 }\n`);
  const leader = await startProcess(t, process.execPath, [js, '--config', cfg], { cwd: work, ready: /"leader\.ready"/, readyTimeoutMs: 30_000 });
  await leader.stop();
  t.true(statSync(join(work, 'leader.db')).size > 0, 'the SQLite store was written');
  t.regex(leader.output(), /"leader\.stopped"/);
});

test('lintian reports no errors (slow)', async (t) => {
  const { stdout } = await run('lintian', ['--allow-root', ...(await debs())], { maxBuffer: 4 << 20 }).catch((e: { stdout: string }) => e);
  t.deepEqual(stdout.split('\n').filter((l) => l.startsWith('E:')), []);
});
