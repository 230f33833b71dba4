// `npm run bench -- broker-cycle [cycles] [vms]`: cost of one broker control cycle (snapshot,
// all five built-in policies, merge, actuator rails, dry-run backend, journal) on a host with
// `vms` VMs; of each policy's decide() alone (what the simulator pays per host per step); and
// the in-process path from an SLA violation report on the bus to the cap change reaching the
// backend (`reportToBackend`, wired as the MVM wires it; no M-channel, no D-Bus).
// The backend is a dry run that, like a real host, makes applied knobs visible in the next
// snapshot. Prints p50/p99 in microseconds.
import pino from 'pino';
import { Actuator, Broker, createPolicyRegistry, defaultRails, DryRunBackend, EventBus, MemoryJournal, SnapshotBuilder, wireBroker, withRails, type BrokerEvents } from '../src/broker/index.js';
import { ManualClock } from '../src/domain/clock.js';
import { builtinPolicies } from '../src/domain/policies/index.js';
import type { Decision } from '../src/domain/model.js';
import type { PowerModel } from '../src/domain/ports/power.js';

const model: PowerModel = {
  idleWatts: 100, peakWatts: 250,
  watts: (u, r = 1) => 100 + 150 * u * r * (0.6 + 0.4 * r) ** 2,
};

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

function stats(samplesNs: number[]): { p50Us: number; p99Us: number } {
  const s = [...samplesNs].sort((a, b) => a - b);
  return { p50Us: Math.round(percentile(s, 0.5) / 10) / 100, p99Us: Math.round(percentile(s, 0.99) / 10) / 100 };
}

export default async function run(args: string[]): Promise<object> {
  const cycles = Number(args[0] ?? 5000);
  const vmCount = Number(args[1] ?? 100);
  const clock = new ManualClock(0);
  const builder = new SnapshotBuilder({
    host: 'bench', clock, periodMs: 1000, cpus: 64, powerModel: model,
    frequency: { capKHz: 2_000_000, minKHz: 1_000_000, maxKHz: 3_000_000 },
    budget: { leaderTimeoutMs: 30_000, safeBudgetWatts: 150 },
  });
  const util = (uuid: string) => (Number(uuid.slice(3)) % 10) / 10;
  builder.setVms(Array.from({ length: vmCount }, (_, i) => ({ uuid: `vm-${i}`, vcpus: 2, cpuUtil: util(`vm-${i}`) })));
  builder.setLeaderBudget(200);
  const dry = new DryRunBackend();
  const scheduler = new Map<string, { cpuShares?: number; vcpuQuotaUs?: number }>();
  const backend = {
    name: 'dry-run-visible',
    async apply(d: Decision): Promise<void> {
      await dry.apply(d);
      if (d.kind === 'set-frequency-cap') builder.setFrequencyCap(d.value);
      if (d.kind === 'set-vm-shares' || d.kind === 'set-vm-quota') {
        const cur = { ...scheduler.get(d.target), ...(d.kind === 'set-vm-shares' ? { cpuShares: d.value } : { vcpuQuotaUs: d.value }) };
        scheduler.set(d.target, cur);
        builder.upsertVm({ uuid: d.target, vcpus: 2, cpuUtil: util(d.target), scheduler: cur });
      }
    },
  };
  const registry = createPolicyRegistry(builtinPolicies());
  const specs = registry.names().map((name) => ({ name }));
  const broker = new Broker({
    host: 'bench', clock, logger: pino({ level: 'silent' }), registry, policies: specs, periodMs: 1000,
    actuator: new Actuator({ clock, backend, rails: withRails(defaultRails(), { 'set-frequency-cap': { min: 1_000_000, max: 3_000_000 } }) }),
    journal: new MemoryJournal(), snapshot: () => builder.build(),
  });
  const cycleNs: number[] = [];
  for (let k = 0; k < cycles; k++) {
    clock.advance(1000);
    builder.setPower({ watts: 180 + 30 * Math.sin(k / 7), timestamp: clock.now(), source: 'bench', ageMs: 0, stale: false });
    builder.slaReport(`vm-${k % vmCount}`, { status: k % 3 === 0 ? 'violated' : 'ok', slack: k % 3 === 0 ? -0.1 : 0.3 });
    const t0 = process.hrtime.bigint();
    await broker.cycle();
    cycleNs.push(Number(process.hrtime.bigint() - t0));
  }
  const perPolicy: Record<string, { p50Us: number; p99Us: number }> = {};
  const snap = builder.build();
  for (const inst of registry.instantiate(specs)) {
    const ns: number[] = [];
    for (let k = 0; k < cycles; k++) {
      clock.advance(1000);
      const s = { ...snap, at: clock.now(), power: { watts: 180 + 30 * Math.sin(k / 7), ageMs: 0, stale: false, source: 'bench' } };
      const t0 = process.hrtime.bigint();
      inst.policy.decide(s, inst.params, clock);
      ns.push(Number(process.hrtime.bigint() - t0));
    }
    perPolicy[inst.name] = stats(ns);
  }
  return { cycles, vms: vmCount, cycle: stats(cycleNs), reportToBackend: await reportToBackend(cycles, vmCount), decisionsApplied: broker.counters.applied, refused: broker.counters.refused, decide: perPolicy };
}

/** SLA violation report emitted on the bus -> set-frequency-cap reaches the backend, ns samples. */
async function reportToBackend(samples: number, vmCount: number): Promise<{ p50Us: number; p99Us: number }> {
  const clock = new ManualClock(0);
  const logger = pino({ level: 'silent' });
  const builder = new SnapshotBuilder({
    host: 'bench', clock, periodMs: 1000, cpus: 64, powerModel: model,
    frequency: { capKHz: 2_000_000, minKHz: 1_000_000, maxKHz: 3_000_000 },
    budget: { leaderTimeoutMs: 30_000, safeBudgetWatts: 150 },
  });
  builder.setVms(Array.from({ length: vmCount }, (_, i) => ({ uuid: `vm-${i}`, vcpus: 2, cpuUtil: 0.3 })));
  builder.setLeaderBudget(300);
  let arrived: (() => void) | undefined;
  const bus = new EventBus<BrokerEvents>(logger);
  const broker = new Broker({
    host: 'bench', clock, logger, bus, registry: createPolicyRegistry(builtinPolicies()), periodMs: 1000,
    policies: [{ name: 'sla-dvfs' }, { name: 'budget', params: { raise: false } }, { name: 'vm-shares' }, { name: 'violation-trigger' }, { name: 'fail-safe' }],
    actuator: new Actuator({ clock, rails: withRails(defaultRails(), { 'set-frequency-cap': { min: 1_000_000, max: 3_000_000 } }), backend: { name: 'signal', apply: async (d) => { if (d.kind === 'set-frequency-cap') arrived?.(); } } }),
    journal: new MemoryJournal(), snapshot: () => builder.build(),
  });
  wireBroker({ bus, builder, broker, logger });
  const ns: number[] = [];
  for (let k = 0; k < samples; k++) {
    clock.advance(5000); // past the raise dwell time; refills the guest's bucket
    builder.setFrequencyCap(2_000_000);
    builder.setPower({ watts: 180, timestamp: clock.now(), source: 'bench', ageMs: 0, stale: false });
    const done = new Promise<void>((r) => { arrived = r; });
    const t0 = process.hrtime.bigint();
    bus.emit('sla-report', { vm: `vm-${k % vmCount}`, report: { status: 'violated', slack: -0.1 } });
    await done;
    ns.push(Number(process.hrtime.bigint() - t0));
    await broker.cycle(); // let the triggered cycle finish before the next sample
  }
  return stats(ns);
}
