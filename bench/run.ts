// `npm run bench -- NAME [args]`: runs bench/NAME.ts, whose default export returns one result
// object, and prints it as one JSON object on stdout (progress goes to stderr).
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here).filter((f) => f.endsWith('.ts') && f !== 'run.ts').map((f) => f.slice(0, -3));
const [name, ...args] = process.argv.slice(2);
if (!name || !available.includes(name)) {
  process.stderr.write(`usage: npm run bench -- NAME\nbenchmarks: ${available.join(', ')}\n`);
  process.exit(2);
}
const mod = (await import(pathToFileURL(join(here, `${name}.ts`)).href)) as { default: (args: string[]) => Promise<object> };
const result = await mod.default(args);
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
