#!/usr/bin/env node
// `vmanage` command line. Subcommand `sim`: the trace-driven simulator (docs/simulator.md).
import cliProgress from 'cli-progress';
import { Command, InvalidArgumentError } from 'commander';
import { isVmanageError } from '../domain/errors.js';
import { policyNames } from '../sim/policies/index.js';
import { writeHtmlReport, type SeriesPoint } from '../sim/html.js';
import { formatTable, toReport, type SimReport } from '../sim/report.js';
import { budgetFor, parseScenario, runScenario } from '../sim/scenario.js';
import { loadWorkload } from '../sim/workload.js';
import { parseSyntheticSpec, syntheticWorkload } from '../sim/synthetic.js';

interface SimFlags { workload: string; policy: string; scenario: string; json?: boolean; compare?: string; html?: string }

async function runSim(flags: SimFlags): Promise<void> {
  const scenario = parseScenario(flags.scenario);
  const synthetic = parseSyntheticSpec(flags.workload);
  const workload = synthetic ? syntheticWorkload(synthetic) : loadWorkload(flags.workload);
  const names = flags.compare ? flags.compare.split(',').map((s) => s.trim()).filter(Boolean) : [flags.policy];
  const budget = budgetFor(scenario, workload);
  const rows: { policy: string; report: SimReport }[] = [];
  const points: SeriesPoint[] = [];
  const interval = 300 / 3600; // h per trace step
  // A progress bar only on a terminal (stderr), never in pipes or with --json.
  const bar = process.stderr.isTTY && !flags.json
    ? new cliProgress.SingleBar({ format: '{policy} [{bar}] {value}/{total} steps', stream: process.stderr }, cliProgress.Presets.shades_classic)
    : undefined;
  for (const name of names) {
    const t0 = performance.now();
    bar?.start(workload.intervals, 0, { policy: name.padEnd(14) });
    const result = runScenario(workload, name, scenario, budget, (k, watts, migrations, slaS) => {
      bar?.update(k + 1);
      if (flags.html) points.push({ policy: name, hour: k * interval, kW: watts / 1000, migrations, slaVmHours: slaS / 3600 });
    });
    bar?.stop();
    rows.push({ policy: name, report: toReport(result, (performance.now() - t0) / 1000) });
  }
  if (flags.html) await writeHtmlReport(flags.html, `vmanage sim: ${flags.workload} (${scenario})`, rows, points, budget);
  if (flags.json) {
    const out = rows.length === 1 ? rows[0]?.report : Object.fromEntries(rows.map((r) => [r.policy, r.report]));
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } else {
    process.stdout.write(`${formatTable(rows)}\n`);
  }
}

export function buildProgram(): Command {
  const program = new Command('vmanage').description('coordinated power and virtualization management');
  program
    .command('sim')
    .description('trace-driven simulation of a cluster (CloudSim PlanetLab set-up)')
    .option('--workload <path>', 'trace CSV file, directory of CloudSim per-VM files, or synthetic[:VMS[:SEED]] (built in)', 'synthetic')
    .option('--policy <name>', `policy: ${policyNames().join(', ')}`, 'thr-mmt-0.8')
    .option('--scenario <name>', 'cloudsim (no budget) or capped (70 % of peak)', 'cloudsim')
    .option('--compare <list>', 'comma-separated policies to run side by side', (v: string) => {
      if (!/^[\w.,-]+$/.test(v)) throw new InvalidArgumentError('expected names separated by commas');
      return v;
    })
    .option('--json', 'print one JSON object')
    .option('--html <file>', 'also write an HTML report with charts')
    .action(async (flags: SimFlags) => runSim(flags));
  return program;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`vmanage: ${isVmanageError(err) ? `${err.code}: ${err.message}` : (err as Error).message}\n`);
  process.exitCode = 2;
}
