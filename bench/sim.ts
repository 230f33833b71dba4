// `npm run bench -- sim [--scenario cloudsim|capped|both] [--days D1,D2] [--policies P1,P2] [--data DIR]
//   [--inputs SPEC,...|held-out]`:
// every policy on every PlanetLab day in both scenarios (default), with CloudSim's own numbers
// side by side where the reference file has them, and the goals for `vmanage` per day.
// --inputs runs derived inputs instead of the days (bench/lib/sim-inputs.ts: odd:D, syn:SEED, ...;
// `held-out` = the held-out set of docs/simulator.md), keyed by spec in place of the day.
// Prints one JSON object: { scenarios: { S: { days: { DAY: { POLICY: {...metrics, wallSeconds,
// cloudsim?} } }, accounting? } }, goals: { DAY: { cloudsim?, capped? } }, oneDayCloudsimWallS }.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cappedGoals, cloudsimGoals } from '../src/sim/goals.js';
import { policyNames } from '../src/sim/policies/index.js';
import { toReport, type SimReport } from '../src/sim/report.js';
import { SCENARIOS, budgetFor, parseScenario, runScenario, type ScenarioName } from '../src/sim/scenario.js';
import { loadWorkload, type Workload } from '../src/sim/workload.js';
import { HELD_OUT, benchInput } from './lib/sim-inputs.js';

const DATA = '/work/shared/data/planetlab';
const REF = '/work/shared/reference/cloudsim-planetlab.tsv';

interface Ref { energyKWh: number; migrations: number; slatah: number; pdm: number }
/** cpuSeconds: user + system CPU time of the run (wallSeconds depends on the machine's load). */
type Row = SimReport & { cloudsim?: Ref; cpuSeconds: number; pingPongs: number; migrationsByReason: Record<string, number> };

function readReference(): Map<string, Ref> {
  const out = new Map<string, Ref>();
  if (!existsSync(REF)) return out;
  for (const line of readFileSync(REF, 'utf8').split('\n')) {
    const c = line.split('\t');
    if (!/^\d{8}$/.test(c[0] ?? '')) continue;
    out.set(`${c[0]}/${(c[1] ?? '').toLowerCase()}`, {
      energyKWh: Number(c[2]), migrations: Number(c[3]), slatah: Number(c[4]) / 100, pdm: Number(c[5]) / 100,
    });
  }
  return out;
}

function arg(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function runDay(day: string, w: Workload, scenario: ScenarioName, policies: readonly string[], ref: Map<string, Ref>): Record<string, Row> {
  const budget = budgetFor(scenario, w);
  const out: Record<string, Row> = {};
  for (const p of policies) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const r = runScenario(w, p, scenario, budget);
    const c = process.cpuUsage(c0);
    const rep: Row = { ...toReport(r, (performance.now() - t0) / 1000), cpuSeconds: (c.user + c.system) / 1e6, pingPongs: r.pingPongs, migrationsByReason: r.migrationsByReason };
    const cs = scenario === 'cloudsim' ? ref.get(`${day}/${p}`) : undefined;
    out[p] = cs ? { ...rep, cloudsim: cs } : rep;
    process.stderr.write(`${day} ${scenario} ${p}: ${rep.energyKWh.toFixed(1)} kWh, ${rep.migrations} migrations, SLA ${rep.slaViolationPct.toFixed(2)} %, ${rep.wallSeconds.toFixed(2)} s (CPU ${rep.cpuSeconds.toFixed(2)} s)\n`);
  }
  return out;
}

function accounting(days: Record<string, Record<string, Row>>): Record<string, { energyWithin10Pct: string; migrationsWithin10Pct: string }> {
  const within: Record<string, { energy: boolean[]; migrations: boolean[] }> = {};
  for (const rows of Object.values(days)) {
    for (const [p, rep] of Object.entries(rows)) {
      const cs = rep.cloudsim;
      if (!cs) continue;
      const acc = (within[p] ??= { energy: [], migrations: [] });
      acc.energy.push(Math.abs(rep.energyKWh / cs.energyKWh - 1) <= 0.1);
      acc.migrations.push(cs.migrations === 0 ? rep.migrations === 0 : Math.abs(rep.migrations / cs.migrations - 1) <= 0.1);
    }
  }
  return Object.fromEntries(Object.entries(within).map(([p, a]) => [p, {
    energyWithin10Pct: `${a.energy.filter(Boolean).length}/${a.energy.length}`,
    migrationsWithin10Pct: `${a.migrations.filter(Boolean).length}/${a.migrations.length}`,
  }]));
}

export default async function bench(args: string[]): Promise<object> {
  const dir = arg(args, '--data') ?? DATA;
  const inputs = arg(args, '--inputs');
  const specs = inputs === 'held-out' ? HELD_OUT : inputs?.split(',');
  const days = specs ?? arg(args, '--days')?.split(',') ?? readdirSync(dir).filter((f) => f.endsWith('.csv')).map((f) => f.slice(0, -4)).sort();
  const policies = arg(args, '--policies')?.split(',') ?? policyNames();
  const s = arg(args, '--scenario') ?? 'both';
  const scenarios: ScenarioName[] = s === 'both' ? [...SCENARIOS] : [parseScenario(s)];
  const ref = readReference();
  const tables: Record<string, Record<string, Record<string, Row>>> = {};
  const goals: Record<string, Record<string, unknown>> = {};
  for (const day of days) {
    const w = specs ? benchInput(day, dir) : loadWorkload(join(dir, `${day}.csv`));
    for (const sc of scenarios) {
      const rows = runDay(day, w, sc, policies, ref);
      (tables[sc] ??= {})[day] = rows;
      const g = (goals[day] ??= {});
      const v = rows['vmanage'];
      if (sc === 'cloudsim' && v && rows['lr-mmt-1.2']) g['cloudsim'] = cloudsimGoals(v, rows['lr-mmt-1.2']);
      if (sc === 'capped' && v && rows['uncoordinated']) g['capped'] = cappedGoals(v, rows['uncoordinated']);
    }
  }
  const cloudsimRows = Object.values(tables['cloudsim'] ?? {}).flatMap((rows) => Object.values(rows));
  const vmanageRows = Object.values(tables['cloudsim'] ?? {}).flatMap((rows) => (rows['vmanage'] ? [rows['vmanage']] : []));
  return {
    scenarios: Object.fromEntries(Object.entries(tables).map(([sc, d]) => [sc, sc === 'cloudsim' ? { days: d, accounting: accounting(d) } : { days: d }])),
    goals,
    oneDayCloudsimWallS: cloudsimRows.length > 0 ? Math.max(...cloudsimRows.map((r) => r.wallSeconds)) : undefined,
    oneDayCloudsimCpuS: cloudsimRows.length > 0 ? Math.max(...cloudsimRows.map((r) => r.cpuSeconds)) : undefined,
    oneDayCloudsimVmanageWallS: vmanageRows.length > 0 ? Math.max(...vmanageRows.map((r) => r.wallSeconds)) : undefined,
  };
}
