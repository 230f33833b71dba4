// `npm run bench -- leader [placements] [passes]`: placement latency (p50/p99 over many new VMs,
// each placed on an index that grows with the previous placements) and one full migration-
// planning pass (index build, host-request handling, audit, consolidation; median of `passes`)
// at 1,000 and 10,000 hosts x 10 VMs, and heartbeatCpuPct: the leader process's CPU for all
// hosts at 1 Hz over TLS (bench/leader-heartbeat.ts; `--no-heartbeat` leaves it out).
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { seededRandom } from '../src/domain/clock.js';
import { addVm, buildIndex } from '../src/domain/leader/cluster-index.js';
import { migrationDefaults, planMigrations, type MigrationRequest } from '../src/domain/leader/migration.js';
import { placeVm, placementDefaults } from '../src/domain/leader/placement.js';
import { MigrationLedger } from '../src/domain/leader/stability.js';
import { heartbeatAgainst, heartbeatCpu } from './leader-heartbeat.js';
import { syntheticCluster, syntheticVm } from './lib/leader-synth.js';

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

function run(hosts: number, placements: number, passes: number): object {
  const state = syntheticCluster(hosts, 10, hosts);
  const index = buildIndex(state);
  const rnd = seededRandom(7);
  const times: number[] = [];
  const cpuTimes: number[] = [];
  let placed = 0;
  for (let i = 0; i < placements + 50; i++) {
    const vm = syntheticVm(rnd, `new-${i}`);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const res = placeVm(index, vm, placementDefaults);
    const dt = performance.now() - t0;
    const dc = process.cpuUsage(c0);
    if (res.ok) {
      addVm(index, res.chosen.load, { ...vm, host: res.chosen.load.host.id });
      placed++;
    }
    if (i >= 50) { // the first 50 warm the JIT up
      times.push(dt);
      cpuTimes.push((dc.user + dc.system) / 1000);
    }
  }
  times.sort((a, b) => a - b);
  cpuTimes.sort((a, b) => a - b);
  const requests: MigrationRequest[] = state.hosts.filter((h) => h.measuredWatts !== undefined).slice(0, 20)
    .map((h) => ({ host: h.id, vm: state.vms.find((v) => v.host === h.id)?.uuid ?? '', shedWatts: 10 }));
  const passTimes: number[] = [];
  const passCpu: number[] = [];
  let plan = planMigrations(state, requests, new MigrationLedger(), migrationDefaults);
  for (let i = 0; i < passes; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    plan = planMigrations(state, requests, new MigrationLedger(), migrationDefaults);
    passTimes.push(performance.now() - t0);
    const dc = process.cpuUsage(c0);
    passCpu.push((dc.user + dc.system) / 1000);
  }
  passTimes.sort((a, b) => a - b);
  passCpu.sort((a, b) => a - b);
  const count = (k: string): number => plan.decisions.filter((d) => d.kind === k).length;
  return {
    hosts, vms: state.vms.length,
    placementP50Ms: r3(quantile(times, 0.5)), placementP99Ms: r3(quantile(times, 0.99)), placements: times.length, placed,
    // Process CPU time (µs resolution; V8 helper threads included): the p99 without scheduler waits.
    placementCpuP50Ms: r3(quantile(cpuTimes, 0.5)), placementCpuP99Ms: r3(quantile(cpuTimes, 0.99)),
    planningPassMs: r3(quantile(passTimes, 0.5)), planningPassMaxMs: r3(passTimes[passTimes.length - 1] as number), planningPassCpuMs: r3(quantile(passCpu, 0.5)), passes,
    plan: { migrations: count('migrate-vm'), powerOff: count('power-off-host'), powerOn: count('power-on-host'), ...plan.stats },
  };
}

/** heartbeatCpuPct and its context (updates/s reached, ramp-up, leader RSS) for `hosts`. */
async function heartbeat(hosts: number, on: boolean): Promise<object> {
  if (!on) return {};
  const h = await heartbeatCpu(hosts);
  return { heartbeatCpuPct: h['heartbeatCpuPct'], heartbeat: h };
}

export default async function leader(args: string[]): Promise<object> {
  const hb = !args.includes('--no-heartbeat');
  const rest = args.filter((a) => a !== '--no-heartbeat');
  const placements = Number(rest[0] ?? 2000);
  const passes = Number(rest[1] ?? 5);
  const hosts1000 = run(1000, placements, passes);
  const hosts10000 = run(10_000, placements, passes);
  return {
    hosts1000: { ...hosts1000, ...await heartbeat(1000, hb) },
    hosts10000: { ...hosts10000, ...await heartbeat(10_000, hb) },
    loadAverage1m: r3(loadavg()[0] as number),
    ...(hb ? { heartbeatMeasuredAgainst: heartbeatAgainst } : {}),
  };
}
