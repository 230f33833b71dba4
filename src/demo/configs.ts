// Configuration files the demo writes for its real daemons (JSON, which their YAML loaders read):
// one vmanage-mvm per simulated host (hypervisor and power in the world, handover peers, control
// socket, fast control periods for a one-minute story) and one vmanage-leader (unix socket for
// the hosts, SQLite store, HTTP on 127.0.0.1). Units: W, kHz, ms.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SPECPOWER_TABLES } from '../domain/power-model.js';
import type { DemoScenario } from './scenario.js';

export interface DemoPaths {
  readonly dir: string;
  readonly world: string;
  readonly channels: string;
  readonly leaderSocket: string;
}

export function demoPaths(dir: string): DemoPaths {
  return { dir, world: join(dir, 'world.sock'), channels: join(dir, 'ch'), leaderSocket: join(dir, 'leader.sock') };
}

export function simUri(host: string, p: DemoPaths): string {
  return `sim:///${host}?world=${p.world}`;
}

export function controlSocket(host: string, p: DemoPaths): string {
  return join(p.dir, `${host}.ctl`);
}

/** Host daemon policies for the demo: the paper's set, with a violation trigger sized for a minute. */
export const DEMO_POLICIES = [
  { name: 'sla-dvfs', params: { relaxAfterMs: 20_000, marginWatts: 1 } },
  { name: 'budget', params: { raise: false, marginWatts: 2, deadbandWatts: 1 } },
  { name: 'violation-trigger', params: { windowMs: 40_000, onThreshold: 2, offThreshold: 0, minIntervalMs: 10_000, vmCooldownMs: 60_000 } },
  { name: 'fail-safe' },
];

export function mvmConfig(host: string, s: DemoScenario, p: DemoPaths, withLeader: boolean): Record<string, unknown> {
  const spec = s.hosts.find((h) => h.name === host);
  if (!spec) throw new Error(`no host ${host} in the scenario`);
  const table = SPECPOWER_TABLES[spec.table].watts;
  const budget = s.budgets[host] as number;
  return {
    host,
    hypervisor: { uri: simUri(host, p) },
    handover: {
      listen: { unix: join(p.dir, `${host}.handover.sock`) },
      peers: s.hosts.filter((h) => h.name !== host).map((h) => ({ name: h.name, unix: join(p.dir, `${h.name}.handover.sock`) })),
      waitMs: 15_000,
    },
    power: {
      sensor: { kind: 'sim-world' },
      actuator: { kind: 'sim-world', uri: simUri(host, p) },
      // The daemon's own estimate: linear between the table's ends (the world uses the table).
      model: { idleWatts: table[0], peakWatts: table[10], vFloor: 0.6 },
      startCapKHz: Math.round((spec.maxKHz * 0.6) / 1000) * 1000,
      budget: { watts: budget, safeWatts: Math.round(budget * 0.95), leaderTimeoutMs: 20_000 },
      periodMs: 250, minGapMs: 100, readIntervalMs: 100,
      policies: DEMO_POLICIES,
      rails: { 'set-frequency-cap': { dwellMs: 1000 }, 'request-migration': { cooldownMs: 30_000, kindMaxChanges: 4 } },
    },
    ...(withLeader ? {
      leader: {
        endpoint: { unix: p.leaderSocket }, updateMs: 1000, trust: 'trusted', migrationUri: simUri(host, p),
        ...(s.capWatts[host] !== undefined ? { capWatts: s.capWatts[host] } : {}),
      },
    } : {}),
    control: { socket: controlSocket(host, p) },
    log: { level: 'info' },
  };
}

/** Share of the cluster's dynamic power range (peak - idle) the cluster budget allows. */
export const CLUSTER_DYNAMIC_SHARE = 0.95;

export function leaderConfig(s: DemoScenario, p: DemoPaths, httpPort: number): Record<string, unknown> {
  // Every host's idle power plus 95 % of the cluster's dynamic range: room for the light hosts
  // to take a VM. The hot host is held by its own feed limit (capWatts), not by the cluster's.
  const idle = s.hosts.reduce((a, h) => a + (SPECPOWER_TABLES[h.table].watts[0] as number), 0);
  const dynamic = s.hosts.reduce((a, h) => a + (SPECPOWER_TABLES[h.table].watts[10] as number) - (SPECPOWER_TABLES[h.table].watts[0] as number), 0);
  const cluster = Math.round(idle + CLUSTER_DYNAMIC_SHARE * dynamic);
  return {
    id: 'demo-leader',
    listen: { unix: p.leaderSocket },
    store: { path: join(p.dir, 'leader.db') },
    http: { host: '127.0.0.1', port: httpPort },
    cluster: { budgetWatts: cluster, shiftWatts: 5 },
    periods: { tickMs: 1000, splitMs: 3000, auditMs: 15_000 },
    failure: { hostTimeoutMs: 10_000, migrationTimeoutMs: 60_000, commandTimeoutMs: 10_000 },
    // The demo tells the power story: a host is moved from for its budget (its own request after
    // repeated violations, or the audit seeing it over budget), not for CPU saturation alone.
    policies: { migration: { overloadUtil: 0.98 } },
    log: { level: 'info' },
  };
}

export function writeJson(path: string, body: unknown): string {
  writeFileSync(path, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
  return path;
}
