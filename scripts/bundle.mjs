// Bundles the programs that ship as single files (the guest agent has no runtime dependencies).
// Entry points are listed here; each one is optional until its source exists.
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';

const entries = [
  { in: 'src/daemons/agent/main.ts', out: 'dist/bundle/vmanage-agent.js', target: 'node18', format: 'esm' },
  // The hook runs on every libvirt VM event: CommonJS + minified starts fastest (bench/lib/hook-bundle.ts).
  { in: 'src/daemons/hook/main.ts', out: 'dist/bundle/vmanage-hook.cjs', target: 'node20', format: 'cjs', minify: true, banner: false },
];
for (const e of entries) {
  if (!existsSync(e.in)) continue;
  await build({
    entryPoints: [e.in], outfile: e.out, bundle: true, platform: 'node', format: e.format,
    target: e.target, minify: e.minify ?? false, banner: e.banner === false ? undefined : { js: '#!/usr/bin/env node' },
    legalComments: 'none', logLevel: 'warning',
  });
}

// The leader's dashboard is plain HTML/JS/CSS that tsc does not copy: put it beside the compiled
// serve.js, where dashboard/serve.ts looks first (the packages ship it to /usr/lib/vmanage/dashboard).
const dashboard = 'src/daemons/leader/dashboard';
if (existsSync(dashboard)) {
  mkdirSync('dist/daemons/leader/dashboard', { recursive: true });
  for (const f of ['index.html', 'app.js', 'style.css']) copyFileSync(`${dashboard}/${f}`, `dist/daemons/leader/dashboard/${f}`);
}
