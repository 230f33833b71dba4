// The simulation loop. Time points: every trace interval (step) and every migration end.
// At each point: set demand, measure (the state at the end of the previous segment), close the
// segment in the accounting, let the policy decide (at steps), apply, re-measure, record.
import { Accounting, metricsOf, type Metrics } from './accounting.js';
import { Datacenter } from './datacenter.js';
import { migrationSeconds, referenceSetup, type SimSetup } from './setup.js';
import type { Migration, SimPolicy, StepContext } from './policies/types.js';
import type { Workload } from './workload.js';

export interface SimOptions {
  readonly workload: Workload;
  readonly policy: SimPolicy;
  readonly setup?: SimSetup;
  /** Cluster power budget, W; undefined = none (scenario cloudsim). */
  readonly budgetW?: number;
  /**
   * Called after every step with the cluster power (W), the migrations so far and the VM time
   * with CPU demand not met so far (s): progress bars and reports.
   */
  readonly onStep?: (step: number, clusterWatts: number, migrations: number, slaViolationS: number) => void;
}

export interface SimResult extends Metrics {
  readonly policy: string;
  readonly vms: number;
  readonly hosts: number;
  readonly unplacedVms: number;
  /** VMs removed as finished (demand reached 0; CloudSim's rule, see SimSetup.removeIdleVms). */
  readonly finishedVms: number;
  /** Highest cluster power at any step, W. */
  readonly peakWatts: number;
  /** Migrations by the reason the policy gave. */
  readonly migrationsByReason: Record<string, number>;
  /** Migrations that sent a VM back to a host it left less than PING_PONG_S before. */
  readonly pingPongs: number;
  /** Distinct VMs / hosts involved in migrations (as source). */
  readonly migratedVms: number;
  readonly migrationSourceHosts: number;
  /** The policy's own counters (SimPolicy.diagnostics), when it keeps any. */
  readonly diagnostics?: Record<string, unknown>;
}

/** A return to the host a VM left within this long counts as a ping-pong, s. */
export const PING_PONG_S = 3600;

/** Who moved where: ping-pongs, reasons, distinct VMs and source hosts. */
class MigrationLog {
  readonly byReason: Record<string, number> = {};
  pingPongs = 0;
  private readonly left = new Map<number, { host: number; at: number }>();
  private readonly vms = new Set<number>();
  private readonly sources = new Set<number>();
  note(m: Migration, source: number, t: number): void {
    this.byReason[m.reason] = (this.byReason[m.reason] ?? 0) + 1;
    const prev = this.left.get(m.vm);
    if (prev && prev.host === m.target && t - prev.at < PING_PONG_S) this.pingPongs++;
    this.left.set(m.vm, { host: source, at: t });
    this.vms.add(m.vm);
    this.sources.add(source);
  }
  get migratedVms(): number { return this.vms.size; }
  get sourceHosts(): number { return this.sources.size; }
}

interface Pending { vm: number; endS: number }

/** CloudSim's updates fall 0.1 s after each trace sample; the demand it sees is interpolated there. */
const UPDATE_OFFSET_S = 0.1;

function startAll(dc: Datacenter, setup: SimSetup, migs: readonly Migration[], t: number, pending: Pending[], log: MigrationLog): void {
  for (const m of migs) {
    const spec = setup.vms[m.vm];
    const host = setup.hosts[m.target];
    if (!spec || !host || (dc.vmHost[m.vm] as number) === m.target) continue;
    log.note(m, dc.vmHost[m.vm] as number, t);
    dc.startMigration(m.vm, m.target);
    pending.push({ vm: m.vm, endS: t + migrationSeconds(spec, host) });
  }
}

export function simulate(opts: SimOptions): SimResult {
  const { workload, policy } = opts;
  const setup = opts.setup ?? referenceSetup(workload.vmNames.length);
  const dc = new Datacenter(setup, workload);
  const unplaced = policy.initialPlacement(dc);
  const acc = new Accounting(dc, policy.nonPowerAware === true);
  const I = setup.intervalS;
  let migrations = 0;
  let freqChanges = 0;
  let lastT = 0;
  let peak = 0;
  let finished = 0;
  const log = new MigrationLog();
  for (let k = 0; k < workload.intervals; k++) {
    const t = k * I;
    dc.setDemand(k, UPDATE_OFFSET_S / I);
    dc.measureAll();
    const ctx: StepContext = { step: k, timeS: t, budgetW: opts.budgetW };
    if (k > 0) {
      acc.segment(t - lastT, opts.budgetW !== undefined);
      finished += dc.removeFinished();
    }
    const migs = k > 0 ? policy.migrations(dc, ctx) : [];
    migrations += migs.length;
    const pending: Pending[] = [];
    startAll(dc, setup, migs, t, pending, log);
    if (policy.control) freqChanges += policy.control(dc, ctx);
    dc.measureAll();
    acc.record();
    lastT = t;
    let watts = 0;
    for (let h = 0; h < dc.hostCount; h++) watts += acc.hostWatts[h] as number;
    if (watts > peak) peak = watts;
    pending.sort((a, b) => a.endS - b.endS);
    for (let i = 0; i < pending.length;) {
      const e = (pending[i] as Pending).endS;
      dc.setDemand(k, (e - t + UPDATE_OFFSET_S) / I);
      dc.measureAll();
      acc.segment(e - lastT, opts.budgetW !== undefined);
      finished += dc.removeFinished();
      while (i < pending.length && (pending[i] as Pending).endS === e) dc.finishMigration((pending[i++] as Pending).vm);
      dc.measureAll();
      acc.record();
      lastT = e;
    }
    opts.onStep?.(k, watts, migrations, acc.totals.vmViolationS);
  }
  return {
    policy: policy.name, vms: dc.vmCount, hosts: dc.hostCount, unplacedVms: unplaced, finishedVms: finished, peakWatts: peak,
    migrationsByReason: log.byReason, pingPongs: log.pingPongs, migratedVms: log.migratedVms, migrationSourceHosts: log.sourceHosts,
    ...(policy.diagnostics ? { diagnostics: policy.diagnostics() } : {}),
    ...metricsOf(acc.totals, migrations, freqChanges),
  };
}
