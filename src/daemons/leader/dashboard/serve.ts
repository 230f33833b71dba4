// Serves the leader's web dashboard (docs/dashboard.md): GET / (the page), /dashboard/app.js,
// /dashboard/style.css and the vega + vega-lite browser builds from node_modules. No build step:
// the page is plain HTML/JS/CSS read once at start-up and kept in memory (~1.3 MB with vega).
// A Content-Security-Policy allows scripts from this server only (vega compiles its expressions
// with Function, hence 'unsafe-eval'); the page writes every text through textContent.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';

interface Asset { readonly type: string; readonly body: Buffer }

const CSP = "default-src 'none'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** The directory of a package's browser build (via a file its `exports` lists), if installed. */
function buildDir(exported: string): string | undefined {
  try {
    return dirname(createRequire(import.meta.url).resolve(exported));
  } catch {
    return undefined;
  }
}

/** The first of `dirs` holding `file`, else the first (so the error names a real candidate). */
function within(dirs: readonly (string | undefined)[], file: string): string {
  const found = dirs.filter((d): d is string => d !== undefined);
  return join(found.find((d) => existsSync(join(d, file))) ?? found[0] ?? '.', file);
}

export interface DashboardOptions {
  /**
   * Where index.html, app.js and style.css are, and vendor/ with vega.min.js and
   * vega-lite.min.js when node_modules has no vega. Default: next to this file (the source
   * tree), else ./dashboard beside it (a bundle: /usr/lib/vmanage/dashboard/).
   */
  readonly dir?: string;
}

export function loadAssets(opts: DashboardOptions = {}): Map<string, Asset> {
  const here = dirname(fileURLToPath(import.meta.url));
  const dirs = opts.dir !== undefined ? [opts.dir] : [here, join(here, 'dashboard')];
  const page = (file: string): Buffer => readFileSync(within(dirs, file));
  const vendor = (exported: string, file: string): Buffer => readFileSync(within([buildDir(exported), ...dirs.map((d) => join(d, 'vendor'))], file));
  const js = 'text/javascript; charset=utf-8';
  return new Map<string, Asset>([
    ['/', { type: 'text/html; charset=utf-8', body: page('index.html') }],
    ['/dashboard/app.js', { type: js, body: page('app.js') }],
    ['/dashboard/style.css', { type: 'text/css; charset=utf-8', body: page('style.css') }],
    ['/dashboard/vendor/vega.min.js', { type: js, body: vendor('vega/vega-schema.json', 'vega.min.js') }],
    ['/dashboard/vendor/vega-lite.min.js', { type: js, body: vendor('vega-lite/vega-lite-schema.json', 'vega-lite.min.js') }],
  ]);
}

/**
 * The dashboard's routes. Assets that cannot be read (a bundle shipped without them) do not stop
 * the API: GET / then answers 503 saying what is missing, and `onMissing` is told once.
 */
export function dashboardPlugin(opts: DashboardOptions = {}, onMissing: (why: string) => void = () => {}): FastifyPluginAsync {
  let assets: Map<string, Asset>;
  try {
    assets = loadAssets(opts);
  } catch (err) {
    const why = `dashboard assets unavailable: ${(err as Error).message}`;
    onMissing(why);
    return async (app: FastifyInstance) => {
      app.get('/', async (_req, reply) => reply.code(503).type('text/plain; charset=utf-8').send(`${why}\nThe API under /api still works.\n`));
    };
  }
  return async (app: FastifyInstance) => {
    for (const [path, a] of assets) {
      app.get(path, async (_req, reply) => reply
        .header('content-security-policy', CSP)
        .header('x-content-type-options', 'nosniff')
        .header('cache-control', path.includes('/vendor/') ? 'public, max-age=86400' : 'no-cache')
        .type(a.type)
        .send(a.body));
    }
  };
}
