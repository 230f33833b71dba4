// `npm run bench -- sim [--scenario cloudsim|capped] [--days D1,D2] [--policies P1,P2] [--data DIR]`: every policy on every
// PlanetLab day, with CloudSim's own numbers side by side where the reference file has them.
// Prints one JSON object: { days: { DAY: { POLICY: {...metrics, wallSeconds, cloudsim?} } },
// accounting: { POLICY: { energyWithin10Pct, migrationsWithin10Pct } }, oneDayCloudsimWallS }.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { policyNames } from '../src/sim/policies/index.js';
import { toReport, type SimReport } from '../src/sim/report.js';
import { budgetFor, parseScenario, runScenario } from '../src/sim/scenario.js';
import { loadWorkload } from '../src/sim/workload.js';

const DATA = '/work/shared/data/planetlab';
const REF = '/work/shared/reference/cloudsim-planetlab.tsv';

interface Ref { energyKWh: number; migrations: number; slatah: number; pdm: number }

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

export default async function bench(args: string[]): Promise<object> {
  const dir = arg(args, '--data') ?? DATA;
  const days = arg(args, '--days')?.split(',') ?? readdirSync(dir).filter((f) => f.endsWith('.csv')).map((f) => f.slice(0, -4)).sort();
  const policies = arg(args, '--policies')?.split(',') ?? policyNames();
  const scenario = parseScenario(arg(args, '--scenario') ?? 'cloudsim');
  const ref = scenario === 'cloudsim' ? readReference() : new Map<string, Ref>();
  const table: Record<string, Record<string, SimReport & { cloudsim?: Ref }>> = {};
  const within: Record<string, { energy: boolean[]; migrations: boolean[] }> = {};
  for (const day of days) {
    const w = loadWorkload(join(dir, `${day}.csv`));
    table[day] = {};
    const budget = budgetFor(scenario, w);
    for (const p of policies) {
      const t0 = performance.now();
      const r = runScenario(w, p, scenario, budget);
      const rep = toReport(r, (performance.now() - t0) / 1000);
      const cs = ref.get(`${day}/${p}`);
      (table[day] as Record<string, unknown>)[p] = cs ? { ...rep, cloudsim: cs } : rep;
      if (cs) {
        const acc = (within[p] ??= { energy: [], migrations: [] });
        acc.energy.push(Math.abs(rep.energyKWh / cs.energyKWh - 1) <= 0.1);
        acc.migrations.push(cs.migrations === 0 ? rep.migrations === 0 : Math.abs(rep.migrations / cs.migrations - 1) <= 0.1);
      }
      process.stderr.write(`${day} ${p}: ${rep.energyKWh.toFixed(1)} kWh, ${rep.migrations} migrations, ${rep.wallSeconds.toFixed(2)} s\n`);
    }
  }
  const accounting = Object.fromEntries(Object.entries(within).map(([p, a]) => [p, {
    energyWithin10Pct: `${a.energy.filter(Boolean).length}/${a.energy.length}`,
    migrationsWithin10Pct: `${a.migrations.filter(Boolean).length}/${a.migrations.length}`,
  }]));
  return { scenario, days: table, accounting };
}
