// Bundles the hook program (src/daemons/hook/main.ts) into one ESM file with esbuild, the way the
// release build does, so tests and the benchmark run the real script (hooks/*.d/vmanage) against it.
import { build } from 'esbuild';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const qemuHookScript = join(repoRoot, 'hooks/qemu.d/vmanage');
export const libxlHookScript = join(repoRoot, 'hooks/libxl.d/vmanage');

/** Writes the bundle to outfile and returns its size in bytes. */
export async function bundleHook(outfile: string): Promise<number> {
  const r = await build({
    entryPoints: [join(repoRoot, 'src/daemons/hook/main.ts')], outfile, bundle: true, platform: 'node',
    format: 'esm', target: 'node20', legalComments: 'none', logLevel: 'warning', metafile: true,
  });
  return Object.values(r.metafile.outputs).reduce((a, o) => a + o.bytes, 0);
}
