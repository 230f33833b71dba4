// The HTML report of `vmanage sim --html FILE`: the result table and three charts (cluster power
// against the budget, migrations, SLA-violation time; all over simulated time), made with
// vega-lite and rendered to SVG here, so the file needs no script or network to view.
import { writeFileSync } from 'node:fs';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { SimReport } from './report.js';

export interface SeriesPoint {
  readonly policy: string;
  /** Simulated time, h. */
  readonly hour: number;
  readonly kW: number;
  readonly migrations: number;
  /** VM time with CPU demand not met so far, VM-hours. */
  readonly slaVmHours: number;
}

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
}

async function svg(spec: vl.TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  const out = await view.toSVG();
  view.finalize();
  return out;
}

function line(points: readonly SeriesPoint[], field: keyof SeriesPoint, title: string, budgetKW?: number): vl.TopLevelSpec {
  const base = {
    mark: { type: 'line' },
    encoding: {
      x: { field: 'hour', type: 'quantitative', title: 'simulated time (h)' },
      y: { field, type: 'quantitative', title },
      color: { field: 'policy', type: 'nominal' },
    },
  };
  const layers: unknown[] = [base];
  if (budgetKW !== undefined) layers.push({ data: { values: [{ b: budgetKW }] }, mark: { type: 'rule', color: 'red', strokeDash: [4, 4] }, encoding: { y: { field: 'b', type: 'quantitative' } } });
  return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', width: 640, height: 220, data: { values: points as unknown as Record<string, unknown>[] }, layer: layers } as unknown as vl.TopLevelSpec;
}

export async function writeHtmlReport(path: string, title: string, rows: readonly { policy: string; report: SimReport }[], points: readonly SeriesPoint[], budgetW?: number): Promise<void> {
  const charts = await Promise.all([
    svg(line(points, 'kW', 'cluster power (kW)', budgetW === undefined ? undefined : budgetW / 1000)),
    svg(line(points, 'migrations', 'migrations so far')),
    svg(line(points, 'slaVmHours', 'SLA violation so far (VM-hours)')),
  ]);
  const keys = Object.keys(rows[0]?.report ?? {}) as (keyof SimReport)[];
  const table = `<table><tr><th>policy</th>${keys.map((k) => `<th>${esc(k)}</th>`).join('')}</tr>${rows.map((r) =>
    `<tr><td>${esc(r.policy)}</td>${keys.map((k) => `<td>${Number(r.report[k]).toPrecision(5)}</td>`).join('')}</tr>`).join('')}</table>`;
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}</style>
</head><body><h1>${esc(title)}</h1>${table}
<h2>Cluster power${budgetW === undefined ? '' : ' and budget (dashed)'}</h2>${charts[0]}
<h2>Migrations</h2>${charts[1]}<h2>SLA violations</h2>${charts[2]}</body></html>\n`;
  writeFileSync(path, html);
}
