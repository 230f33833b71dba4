// vmanagectl bundled as the package ships it (one CommonJS file, scripts/package/programs.mjs)
// and run as a process.
import { build } from 'esbuild';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { tempDir } from '../support/proc.js';

export interface Run { code: number; out: string; err: string }

let bundled: Promise<string> | undefined;

/** The bundle, built once per test file. */
export function ctlBundle(): Promise<string> {
  bundled ??= (async () => {
    const out = join(await tempDir(undefined, 'vmanagectl-bundle-'), 'vmanagectl.cjs');
    await build({ entryPoints: ['src/cli/vmanagectl.ts'], outfile: out, bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'error' });
    return out;
  })();
  return bundled;
}

export async function ctl(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const path = await ctlBundle();
  return new Promise((resolve) => {
    execFile(process.execPath, [path, ...args], { env: { PATH: process.env['PATH'] ?? '', ...env }, timeout: 20_000 }, (err, out, errOut) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out, err: errOut });
    });
  });
}

export const json = <T>(r: Run): T => JSON.parse(r.out) as T;
