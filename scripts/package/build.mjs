// Builds the Debian packages into dist/deb/ from the tables in programs.mjs:
// esbuild bundles (no node_modules tree ships, except the modules a program names), staged
// trees, DEBIAN/ control files and maintainer scripts, then dpkg-deb. Prints one line per .deb.
// Usage: node scripts/package/build.mjs [--out dist/deb]
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { packages, programs } from './programs.mjs';

const repo = join(dirname(new URL(import.meta.url).pathname), '..', '..');
const outArg = process.argv.indexOf('--out');
const out = outArg > 0 ? process.argv[outArg + 1] : join(repo, 'dist', 'deb');
const version = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).version;
const maintainer = 'vmanage developers <vmanage-devel@lists.vmanage.org>';
const libDir = '/usr/lib/vmanage';
/** Fixed mtime for reproducible archives (SOURCE_DATE_EPOCH wins when set), seconds. */
const epoch = Number(process.env.SOURCE_DATE_EPOCH ?? 1764028800);

const gz = (buf) => gzipSync(buf, { level: 9 });

function put(root, path, data, mode) {
  const dest = join(root, path);
  mkdirSync(dirname(dest), { recursive: true });
  writeFileSync(dest, data);
  chmodSync(dest, mode);
}

function src(path) {
  const p = join(repo, path);
  if (!existsSync(p)) throw new Error(`${path}: listed in scripts/package/programs.mjs but missing`);
  return readFileSync(p);
}

/** Bundles one program; returns the node_modules packages it contains (for the copyright file). */
async function bundle(p, dir) {
  const esm = p.format === 'esm';
  const shebang = p.bin ? '#!/usr/bin/node\n' : '';
  // Bundled CommonJS dependencies call require() for Node built-ins: give ESM bundles one.
  const req = esm ? "import { createRequire as __vmanageRequire } from 'node:module';\nconst require = __vmanageRequire(import.meta.url);\n" : '';
  const r = await build({
    entryPoints: [join(repo, p.entry)], outfile: join(dir, p.file), bundle: true, platform: 'node',
    format: p.format, target: p.target ?? 'node20', minify: p.minify ?? false, external: p.external ?? [],
    banner: { js: shebang + req }, legalComments: 'none', logLevel: 'error', metafile: true,
  });
  const mods = new Set();
  for (const input of Object.keys(r.metafile.inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) mods.add(m[1]);
  }
  return mods;
}

/** Files of a shipped module tree that are never needed at run time. */
const NOT_RUNTIME = /\.(md|markdown|map|ts|mts|cts)$|(^|\/)(\.npmignore|\.travis\.yml|\.eslintrc[^/]*|\.github|\.editorconfig)$|(^|\/)(test|tests|docs?|examples?|benchmarks?|\.bin)(\/|$)/;
/** ... and those of a native addon: its C/C++ sources, build intermediates, static libraries, test addons. */
const NOT_RUNTIME_NATIVE = /(^|\/)(src|deps)(\/|$)|\.(c|cc|h|gyp|gypi|a|mk)$|(^|\/)build\/(Debug|deps|obj.*|[^/]*Makefile|config\.gypi|Release\/(obj.*|test_extension\.node|\.deps))/;

/** Copies a module that cannot be bundled (a native addon; a module that reads its own files at
 *  run time, like etcd3's .proto) and its runtime dependencies (package.json "dependencies",
 *  less `omit`: install-time tools, type packages) into /usr/lib/vmanage/node_modules. Returns
 *  the module names copied. */
function copyModule(name, root, omit = [], seen = new Set()) {
  if (seen.has(name) || omit.includes(name)) return seen;
  seen.add(name);
  const from = join(repo, 'node_modules', name);
  const to = join(root, libDir, 'node_modules', name);
  const native = existsSync(join(from, 'binding.gyp'));
  cpSync(from, to, {
    recursive: true,
    filter: (s) => { const r = relative(from, s); return !NOT_RUNTIME.test(r) && !(native && NOT_RUNTIME_NATIVE.test(r)); },
  });
  const pj = JSON.parse(readFileSync(join(from, 'package.json'), 'utf8'));
  for (const dep of Object.keys(pj.dependencies ?? {})) copyModule(dep, root, omit, seen);
  return seen;
}

/** Debian policy 10.1/8.1 for the shipped module trees: addons stripped; 0755 for scripts (#!),
 *  0644 for the rest (node loads them, dlopen needs no x bit, npm's executable bits are noise). */
function stripAddons(dir) {
  for (const f of walk(dir)) {
    if (f.endsWith('.node')) execFileSync('strip', ['--strip-unneeded', '--remove-section=.comment', '--remove-section=.note', f]);
    chmodSync(f, readFileSync(f).subarray(0, 2).toString() === '#!' ? 0o755 : 0o644);
  }
}

function licenseOf(mod) {
  try {
    const pj = JSON.parse(readFileSync(join(repo, 'node_modules', mod, 'package.json'), 'utf8'));
    const l = pj.license ?? pj.licenses;
    if (typeof l === 'string') return l;
    if (Array.isArray(l)) return l.map((x) => x.type ?? x).join(' or ');
    return l?.type ?? 'see upstream';
  } catch { return 'see upstream'; }
}

function copyright(mods) {
  const lines = [
    'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
    'Upstream-Name: vmanage',
    '',
    'Files: *',
    'Copyright: 2026 vmanage developers',
    'License: Apache-2.0',
    '',
    'Files: usr/lib/vmanage/*',
    'Copyright: 2026 vmanage developers and the authors of the bundled npm modules',
    'License: Apache-2.0 and others',
    ' The JavaScript bundles contain these npm modules under their own licenses:',
    ...[...mods].sort().map((m) => ` ${m}: ${licenseOf(m)}`),
    '',
    'License: Apache-2.0',
    ' On Debian systems the full text of the Apache License 2.0 is in',
    ' /usr/share/common-licenses/Apache-2.0.',
    '',
    'License: Apache-2.0 and others',
    ' vmanage itself: Apache-2.0 (/usr/share/common-licenses/Apache-2.0). Bundled',
    ' modules: as listed above (MIT, ISC, BSD and Apache-2.0 texts in /usr/share/common-licenses',
    ' and in each module\'s upstream repository).',
  ];
  return lines.join('\n') + '\n';
}

function changelog(pkg) {
  const date = new Date(epoch * 1000).toUTCString().replace(/GMT$/, '+0000');
  return `${pkg} (${version}) unstable; urgency=medium\n\n  * Release ${version}.\n\n -- ${maintainer}  ${date}\n`;
}

function fill(template, vars) {
  return template.replace(/@([A-Z_]+)@/g, (_, k) => {
    if (!(k in vars)) throw new Error(`maintainer script template: no value for @${k}@`);
    return vars[k];
  });
}

function walk(dir, acc = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, acc); else if (e.isFile()) acc.push(p); // symlinks have no md5sum
  }
  return acc;
}

async function buildPackage(name, spec, progs, bundleDir) {
  const root = join(out, 'stage', name);
  rmSync(root, { recursive: true, force: true });
  const mods = new Set();
  for (const p of progs) {
    for (const m of await bundle(p, bundleDir)) mods.add(m);
    put(root, join(libDir, p.file), readFileSync(join(bundleDir, p.file)), p.bin ? 0o755 : 0o644);
    if (p.bin) {
      mkdirSync(join(root, 'usr/bin'), { recursive: true });
      symlinkSync(`../lib/vmanage/${p.file}`, join(root, 'usr/bin', p.name));
    }
    for (const n of p.modules ?? []) for (const m of copyModule(n, root, p.modulesOmit ?? [])) mods.add(m);
    if (p.modules?.length) stripAddons(join(root, libDir, 'node_modules'));
  }
  const units = [...spec.units, ...spec.activated];
  for (const u of units) put(root, `/usr/lib/systemd/system/${u}`, src(spec.unitSources?.[u] ?? `systemd/${u}`), 0o644);
  for (const [from, to, mode] of [...spec.files, ...spec.conffiles]) {
    const data = src(from);
    if (/\/man\/man\d\//.test(to)) put(root, `${to}.gz`, gz(data), mode);
    else put(root, to, data, mode);
  }
  const doc = `/usr/share/doc/${name}`;
  for (const d of spec.docs) {
    if (!existsSync(join(repo, d))) continue; // docs are welcome, not required
    const data = src(d);
    // Debian policy 12.3: documentation larger than 4 kB is compressed.
    if (data.length > 4096) put(root, `${doc}/${basename(d)}.gz`, gz(data), 0o644);
    else put(root, `${doc}/${basename(d)}`, data, 0o644);
  }
  put(root, `${doc}/copyright`, copyright(mods), 0o644);
  put(root, `${doc}/changelog.gz`, gz(changelog(name)), 0o644);
  if (existsSync(join(repo, 'packaging/lintian', name))) {
    put(root, `/usr/share/lintian/overrides/${name}`, src(`packaging/lintian/${name}`), 0o644);
  }

  const files = walk(root).sort();
  const sysusers = spec.files.filter(([, to]) => to.startsWith('/usr/lib/sysusers.d/')).map(([, to]) => basename(to));
  const tmpfiles = spec.files.filter(([, to]) => to.startsWith('/usr/lib/tmpfiles.d/')).map(([, to]) => basename(to));
  const vars = {
    PKG: name, USER: spec.user ? 'yes' : 'no', GROUPS: spec.groups.join(' '), STATE_DIRS: spec.stateDirs.join(' '),
    START_UNITS: spec.units.join(' '), ACTIVATED_UNITS: spec.activated.join(' '), RULES: spec.rules ? 'yes' : 'no',
    SYSUSERS: sysusers.join(' '), TMPFILES: tmpfiles.join(' '), ALL_UNITS: units.join(' '), PURGE_DIRS: spec.purgeDirs.join(' '),
  };
  const md5 = files.map((f) => `${createHash('md5').update(readFileSync(f)).digest('hex')}  ${relative(root, f)}`);
  const sizeKiB = Math.ceil(files.reduce((n, f) => n + statSync(f).size, 0) / 1024);
  const arch = spec.arch === 'any' ? execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim() : 'all';
  const control = [
    `Package: ${name}`, `Version: ${version}`, `Architecture: ${arch}`, `Maintainer: ${maintainer}`,
    `Installed-Size: ${sizeKiB}`, `Depends: ${spec.depends.join(', ').replaceAll('@VERSION@', version)}`,
    ...(spec.recommends.length ? [`Recommends: ${spec.recommends.join(', ')}`] : []),
    ...(spec.suggests?.length ? [`Suggests: ${spec.suggests.join(', ')}`] : []),
    'Section: admin', 'Priority: optional', 'Homepage: https://vmanage.org/',
    `Description: ${spec.description}`, ...spec.long.map((l) => ` ${l}`),
  ];
  put(root, 'DEBIAN/control', control.join('\n') + '\n', 0o644);
  put(root, 'DEBIAN/md5sums', md5.join('\n') + '\n', 0o644);
  if (spec.conffiles.length) put(root, 'DEBIAN/conffiles', spec.conffiles.map(([, to]) => to).join('\n') + '\n', 0o644);
  // A package with no units, user, udev rules or run-time state (the CLI) needs no scripts.
  const scripted = units.length > 0 || spec.user || spec.rules || spec.purgeDirs.length > 0;
  for (const s of scripted ? ['postinst', 'prerm', 'postrm'] : []) {
    put(root, `DEBIAN/${s}`, fill(readFileSync(join(repo, `packaging/maint/${s}.in`), 'utf8'), vars), 0o755);
  }
  const deb = join(out, `${name}_${version}_${arch}.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', root, deb], {
    stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) },
  });
  return deb;
}

async function main() {
  mkdirSync(out, { recursive: true });
  for (const f of readdirSync(out)) if (f.endsWith('.deb')) rmSync(join(out, f));
  const bundleDir = join(out, 'bundle');
  mkdirSync(bundleDir, { recursive: true });
  for (const [name, spec] of Object.entries(packages)) {
    const progs = programs.filter((p) => p.pkg === name && existsSync(join(repo, p.entry)));
    const missing = programs.filter((p) => p.pkg === name && !existsSync(join(repo, p.entry)));
    for (const p of missing) process.stderr.write(`package: ${p.name}: ${p.entry} does not exist yet, left out of ${name}\n`);
    if (progs.length === 0) { process.stderr.write(`package: ${name}: no program exists yet, not built\n`); continue; }
    process.stdout.write(await buildPackage(name, spec, progs, bundleDir) + '\n');
  }
}

main().catch((err) => { process.stderr.write(`package: ${err.message}\n`); process.exit(1); });
