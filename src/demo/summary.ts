// The demo's final summary (--json prints it) and the host daemons' control-socket status read
// the demo uses to learn each host's budget in force. Units: %, W h, s.
import { connect } from 'node:net';
import type { Narrator } from './narrate.js';
import type { DemoScenario } from './scenario.js';
import type { World } from './world.js';

export interface DemoSummary {
  readonly durationS: number;
  readonly hosts: number;
  readonly vms: number;
  readonly workload: string;
  readonly leader: boolean;
  readonly dashboardUrl?: string | undefined;
  /** Frequency-cap raises the host daemons made for a guest's SLA violation. */
  readonly slaFrequencyRaises: number;
  /** Frequency-cap cuts the host daemons made because power was over the budget. */
  readonly budgetCaps: number;
  /** Live migrations that completed (the source host daemon's report). */
  readonly migrations: number;
  readonly migrationRequests: number;
  readonly migrationsFailed: number;
  readonly sessionHandovers: number;
  /** Share of host time with the world's true power above the budget in force, %. */
  readonly budgetViolationPct: number;
  /** Share of VM time with the SLA (p95 latency <= target) broken, %. */
  readonly slaViolationPct: number;
  readonly energyWh: number;
  readonly leaderDecisions: number;
  /** PIDs of the daemons the demo started (all stopped when the summary is printed). */
  readonly pids: readonly number[];
  /** Why the demo stopped early (a daemon died), if it did. */
  readonly failed?: string | undefined;
}

export function summarise(x: { narrator: Narrator; world: World; scenario: DemoScenario; startedAt: number; dashboard: string | undefined; leader: boolean; failed: string | undefined; pids: readonly number[] }): DemoSummary {
  const c = x.narrator.counters;
  const t = x.world.totals;
  const pct = (a: number, b: number): number => (b > 0 ? Math.round((a / b) * 10_000) / 100 : 0);
  return {
    durationS: Math.round((Date.now() - x.startedAt) / 100) / 10,
    hosts: x.scenario.hosts.length, vms: x.scenario.vms.length, workload: x.scenario.source, leader: x.leader,
    ...(x.dashboard ? { dashboardUrl: x.dashboard } : {}),
    slaFrequencyRaises: c.slaFrequencyRaises, budgetCaps: c.budgetCaps, migrations: c.migrations,
    migrationRequests: c.migrationRequests, migrationsFailed: c.migrationsFailed, sessionHandovers: c.sessionHandovers,
    budgetViolationPct: pct(t.overBudgetMs, t.hostMs), slaViolationPct: pct(t.slaViolatedMs, t.vmMs),
    energyWh: Math.round((t.energyJ / 3600) * 100) / 100, leaderDecisions: c.leaderDecisions, pids: x.pids,
    ...(x.failed ? { failed: x.failed.slice(0, 4000) } : {}),
  };
}

export interface MvmStatusLite { power?: { watts?: number; budgetWatts?: number; capKHz?: number } }

/** {"op":"status"} on a host daemon's control socket; rejects after timeoutMs. */
export function askStatus(path: string, timeoutMs = 1000): Promise<MvmStatusLite> {
  return new Promise((resolve, reject) => {
    const sock = connect({ path });
    let buf = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`${path}: no answer in ${timeoutMs} ms`)); }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write('{"op":"status"}\n'));
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) {
        if (buf.length > 1 << 20) { clearTimeout(timer); sock.destroy(); reject(new Error(`${path}: answer too long`)); }
        return;
      }
      clearTimeout(timer);
      sock.end();
      try {
        resolve(JSON.parse(buf.slice(0, nl)) as MvmStatusLite);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
    sock.on('error', (err) => { clearTimeout(timer); reject(err); });
  });
}
