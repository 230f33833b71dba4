// vmanage-powerd and vmanage-mvm as the .deb ships them: each bundled by esbuild with the entry,
// format and externals of scripts/package/programs.mjs (the table the package build uses), run
// with plain node (no tsx loader, no TypeScript compiled in-process). Same real peers as
// test/mvm/support.ts: powerd on a private system bus over a fake sysfs, the MVM on libvirt's
// test driver behind libvirt-dbus. Started with startProcess, stopped by PID at teardown.
import { build } from 'esbuild';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { requestStatus } from '../../src/cli/vmanagectl.js';
import { startPrivateBus } from '../../test/support/dbus.js';
import { intelPstatePolicies, makeFakeSysfs } from '../../test/support/fakesysfs.js';
import { startProcess, tempDir, type Teardown } from '../../test/support/proc.js';
import type { Libvirt, MvmProcess, Powerd } from '../../test/mvm/support.js';
import { readFile } from 'node:fs/promises';
import { repoRoot } from './hook-bundle.js';

interface Program { name: string; entry: string; format: 'cjs' | 'esm'; file: string; external?: string[]; target?: string }

const P0 = 'sys/devices/system/cpu/cpufreq/policy0';

/** Bundles `name` (a row of programs.mjs) into dir; returns the bundle's path. */
export async function bundleProgram(name: string, dir: string): Promise<string> {
  const { programs } = await import(join(repoRoot, 'scripts/package/programs.mjs')) as { programs: Program[] };
  const p = programs.find((x) => x.name === name);
  if (!p) throw new Error(`scripts/package/programs.mjs has no program ${name}`);
  const outfile = join(dir, p.file);
  // As scripts/package/build.mjs: ESM bundles get a require() for bundled CommonJS code.
  const req = p.format === 'esm' ? "import { createRequire as __vmanageRequire } from 'node:module';\nconst require = __vmanageRequire(import.meta.url);\n" : '';
  await build({
    entryPoints: [join(repoRoot, p.entry)], outfile, bundle: true, platform: 'node', format: p.format,
    target: p.target ?? 'node20', external: p.external ?? [], banner: { js: req }, legalComments: 'none', logLevel: 'error',
  });
  return outfile;
}

/** `nodeArgs` go to node before the bundle (V8 flags, --cpu-prof: an experiment). */
export async function startShippedPowerd(t: Teardown, bundleDir: string, nodeArgs: readonly string[] = []): Promise<Powerd> {
  const bus = await startPrivateBus(t, 'system');
  const fake = await makeFakeSysfs(t, { policies: intelPstatePolicies(2) });
  const dir = await tempDir(t, 'vmanage-powerd-');
  const file = join(dir, 'powerd.yaml');
  await writeFile(file, `sysfsRoot: ${fake.root}\nreadingIntervalMs: 0\nallow: { uids: [0], groups: [] }\n`);
  const js = await bundleProgram('vmanage-powerd', bundleDir);
  const proc = await startProcess(t, process.execPath, [...nodeArgs, js, '--config', file], {
    cwd: dir, env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: bus.address }, ready: /vmanage-powerd ready/, readyTimeoutMs: 60_000,
  });
  return { address: bus.address, fake, proc, capKHz: async () => Number((await readFile(fake.path(`${P0}/scaling_max_freq`), 'utf8')).trim()) };
}

export async function startShippedMvm(t: Teardown, lv: Libvirt, bundleDir: string, extra: Record<string, unknown>, nodeArgs: readonly string[] = []): Promise<MvmProcess> {
  const dir = await tempDir(t, 'vmanage-mvm-');
  await chmod(dir, 0o755);
  const control = join(dir, 'control.sock');
  const file = join(dir, 'mvm.yaml');
  await writeFile(file, stringify({ host: 'h1', hypervisor: { uri: 'test:///default', busAddress: lv.ld.address }, control: { socket: control }, stateFile: join(dir, 'sessions.json'), log: { level: 'info' }, ...extra }));
  const js = await bundleProgram('vmanage-mvm', bundleDir);
  const proc = await startProcess(t, process.execPath, [...nodeArgs, js, '-c', file], {
    cwd: dir, env: { ...process.env }, ready: () => requestStatus(control, 1000).then(() => true, () => false), readyTimeoutMs: 60_000,
  });
  return { proc, dir, control };
}
