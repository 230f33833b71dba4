// `npm run schemas`: writes schemas/*.json (JSON Schema for every message kind, the envelope and
// the session state) from src/protocol. `--check` only compares and exits 1 when out of date.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsonSchemas, schemaText, vmanageRegistry } from '../src/protocol/index.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'schemas');
const check = process.argv.includes('--check');
const docs = jsonSchemas(vmanageRegistry());
const stale: string[] = [];
if (!check) mkdirSync(dir, { recursive: true });
for (const [file, document] of docs) {
  const path = join(dir, file);
  const text = schemaText(document);
  if (existsSync(path) && readFileSync(path, 'utf8') === text) continue;
  stale.push(file);
  if (!check) writeFileSync(path, text);
}
const extra = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json') && !docs.has(f)) : [];
for (const f of extra) {
  stale.push(`${f} (no longer generated)`);
  if (!check) rmSync(join(dir, f));
}
if (check && stale.length > 0) {
  process.stderr.write(`schemas/ is out of date (run npm run schemas): ${stale.join(', ')}\n`);
  process.exit(1);
}
process.stderr.write(check ? 'schemas/ is current\n' : `schemas/: ${docs.size} files, ${stale.length} changed\n`);
