// Output of `vmanage sim`: one JSON object, or a plain table for several policies.
import type { Metrics } from './accounting.js';
import type { SimResult } from './run.js';

/** The simulator's metrics (src/sim/accounting.ts) plus the run's wall time, seconds. */
export interface SimReport extends Metrics {
  wallSeconds: number;
}

export function toReport(r: SimResult, wallSeconds: number): SimReport {
  return {
    energyKWh: r.energyKWh, slatah: r.slatah, pdm: r.pdm, slav: r.slav, esv: r.esv, migrations: r.migrations,
    slaViolationPct: r.slaViolationPct, budgetViolationPct: r.budgetViolationPct, frequencyChanges: r.frequencyChanges,
    meanSlowdown: r.meanSlowdown, latencyViolationPct: r.latencyViolationPct, wallSeconds,
  };
}

const COLUMNS: readonly [keyof SimReport, string, (v: number) => string][] = [
  ['energyKWh', 'energy kWh', (v) => v.toFixed(2)],
  ['slatah', 'SLATAH %', (v) => (100 * v).toFixed(3)],
  ['pdm', 'PDM %', (v) => (100 * v).toFixed(4)],
  ['slav', 'SLAV', (v) => v.toExponential(3)],
  ['esv', 'ESV', (v) => v.toExponential(3)],
  ['migrations', 'migrations', (v) => String(v)],
  ['slaViolationPct', 'SLA viol. %', (v) => v.toFixed(3)],
  ['budgetViolationPct', 'budget viol. %', (v) => v.toFixed(3)],
  ['latencyViolationPct', 'latency viol. %', (v) => v.toFixed(3)],
  ['wallSeconds', 'wall s', (v) => v.toFixed(2)],
];

/** A fixed-width table: one row per policy. */
export function formatTable(rows: readonly { policy: string; report: SimReport }[]): string {
  const head = ['policy', ...COLUMNS.map((c) => c[1])];
  const body = rows.map((r) => [r.policy, ...COLUMNS.map(([k, , f]) => f(r.report[k]))]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  return [line(head), ...body.map(line)].join('\n');
}
