#!/usr/bin/env node
// `vmanage` command line. Subcommand `sim`: the trace-driven simulator (docs/simulator.md);
// `demo`: the demo cluster (leader + host daemons on simulated hosts, docs/demo.md).
import cliProgress from 'cli-progress';
import { Command, InvalidArgumentError } from 'commander';
import { isVmanageError } from '../domain/errors.js';
import { DEMO_DEFAULTS, runDemo, type DemoOptions } from '../demo/run.js';
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
  program
    .command('demo')
    .description('demo cluster on this machine: a leader and host daemons on simulated hosts with PlanetLab load, narrated')
    .option('--hosts <n>', 'simulated hosts (2..64)', intArg(2, 64), DEMO_DEFAULTS.hosts)
    .option('--duration <seconds>', 'stop after this long (default: until Ctrl-C)', intArg(1, 86_400))
    .option('--json', 'print the final summary as one JSON object on stdout (narration goes to stderr)')
    .option('--workload <path>', 'PlanetLab trace CSV or synthetic[:VMS[:SEED]] (default: /work/shared/data/planetlab/20110303.csv if present, else synthetic)')
    .option('--step-ms <ms>', 'wall time of one 5-minute trace step', intArg(200, 600_000), DEMO_DEFAULTS.stepMs)
    .option('--vms-per-host <n>', 'VMs per host (1..8)', intArg(1, 8), DEMO_DEFAULTS.vmsPerHost)
    .option('--port <port>', 'dashboard port (the first free one from here)', intArg(1, 65535), DEMO_DEFAULTS.httpPort)
    .option('--keep', 'keep the working directory (configs, daemon logs)')
    .option('--no-leader', 'run the host daemons without a leader')
    .action(async (f: { hosts: number; duration?: number; json?: boolean; workload?: string; stepMs: number; vmsPerHost: number; port: number; keep?: boolean; leader: boolean }) => {
      const o: DemoOptions = {
        hosts: f.hosts, json: !!f.json, stepMs: f.stepMs, vmsPerHost: f.vmsPerHost, httpPort: f.port, keep: !!f.keep, noLeader: !f.leader,
        ...(f.duration !== undefined ? { durationS: f.duration } : {}), ...(f.workload ? { workload: f.workload } : {}),
      };
      const say = (l: string): void => void (o.json ? process.stderr : process.stdout).write(`${l}\n`);
      const summary = await runDemo(o, say);
      if (o.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      else {
        say(`summary: ${summary.slaFrequencyRaises} SLA-driven frequency raises, ${summary.budgetCaps} budget caps, ${summary.migrationRequests} migration requests, `
          + `${summary.migrations} live migrations (${summary.sessionHandovers} guest sessions handed over); power over budget ${summary.budgetViolationPct} % of host time; `
          + `SLA broken ${summary.slaViolationPct} % of VM time; ${summary.energyWh} Wh in ${summary.durationS} s (--json for the full summary)`);
      }
      if (summary.failed) {
        process.stderr.write(`vmanage demo: stopped early: ${summary.failed}\n`);
        process.exitCode = 1;
      }
    });
  return program;
}

function intArg(min: number, max: number): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer in ${min}..${max}`);
    return n;
  };
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`vmanage: ${isVmanageError(err) ? `${err.code}: ${err.message}` : (err as Error).message}\n`);
  process.exitCode = 2;
}
