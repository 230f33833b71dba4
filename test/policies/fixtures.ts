// Test fixtures for the host policies: a snapshot factory and a simulated host plant.
import { seededRandom, type Random } from '../../src/domain/clock.js';
import type { HostSnapshot, VmSnapshot } from '../../src/domain/model.js';
import type { PowerModel } from '../../src/domain/ports/power.js';

/** A 2-socket-ish host: 100 W idle, 250 W peak, dynamic power ~ u * f * V^2 with V = 0.6 + 0.4 r. */
export const testModel: PowerModel = {
  idleWatts: 100,
  peakWatts: 250,
  watts(u: number, r = 1) {
    const v = 0.6 + 0.4 * r;
    return 100 + 150 * Math.min(1, Math.max(0, u)) * r * v * v;
  },
};

export const MAX_KHZ = 3_000_000;
export const MIN_KHZ = 1_000_000;

export function vm(uuid: string, over: Partial<VmSnapshot> & { status?: 'ok' | 'violated' | 'unknown'; slack?: number; at?: number } = {}): VmSnapshot {
  const { status = 'ok', slack = 0.1, at = 0, ...rest } = over;
  return {
    uuid, name: uuid, vcpus: 2, cpuUtil: 0.5,
    sla: { status, slack, reportedAt: at, violations: status === 'violated' ? 1 : 0 },
    scheduler: {}, migrationOpen: false,
    ...rest,
  };
}

export function snapshot(over: Partial<Omit<HostSnapshot, 'budget'>> & { watts?: number; stale?: boolean; ageMs?: number; budget?: number; capKHz?: number } = {}): HostSnapshot {
  const { watts = 180, stale = false, ageMs = 0, budget = 200, capKHz = 2_000_000, ...rest } = over;
  return {
    host: 'h1', at: 0, periodMs: 1000,
    power: { watts, ageMs, stale, source: 'test' },
    budget: { watts: budget, source: 'leader' },
    cpuUtil: 0.6, cpus: 8,
    frequency: { capKHz, minKHz: MIN_KHZ, maxKHz: MAX_KHZ },
    powerModel: testModel,
    reliability: 1, leaderConnected: true,
    vms: [vm('a'), vm('b')],
    ...rest,
  };
}

/**
 * A host whose CPU demand is given in "work at full clock" (0..1 of all CPUs). At frequency ratio
 * r the same work keeps the CPUs busy u = min(1, demand / r); power = model(u, r) + noise.
 * The sensor reports the power of the last period (one period of measurement lag).
 */
export class HostPlant {
  demand: number;
  capKHz: number;
  private readonly rng: Random;
  constructor(opts: { demand: number; capKHz?: number; noiseWatts?: number; seed?: number; model?: PowerModel }) {
    this.demand = opts.demand;
    this.capKHz = opts.capKHz ?? MAX_KHZ;
    this.noiseWatts = opts.noiseWatts ?? 0;
    this.model = opts.model ?? testModel;
    this.rng = seededRandom(opts.seed ?? 1);
  }
  readonly noiseWatts: number;
  readonly model: PowerModel;

  get ratio(): number { return this.capKHz / MAX_KHZ; }
  get util(): number { return Math.min(1, this.demand / this.ratio); }
  /** Uniform noise in [-noiseWatts, +noiseWatts]. */
  power(): number {
    return this.model.watts(this.util, this.ratio) + (this.rng.next() * 2 - 1) * this.noiseWatts;
  }
}
