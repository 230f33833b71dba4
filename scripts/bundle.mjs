// Bundles the programs that ship as single files (the guest agent has no runtime dependencies).
// Entry points are listed here; each one is optional until its source exists.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';

const entries = [
  { in: 'src/daemons/agent/main.ts', out: 'dist/bundle/vmanage-agent.js', target: 'node18' },
];
for (const e of entries) {
  if (!existsSync(e.in)) continue;
  await build({
    entryPoints: [e.in], outfile: e.out, bundle: true, platform: 'node', format: 'esm',
    target: e.target, banner: { js: '#!/usr/bin/env node' }, legalComments: 'none', logLevel: 'warning',
  });
}
