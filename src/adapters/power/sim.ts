// A simulated host power plant: a power sensor, a frequency actuator and a power-limit actuator
// that share one state and implement the same ports as the RAPL / cpufreq / BMC adapters, so one
// fake serves unit tests, the demo and the simulator. Power comes from a PowerModel (watts at a
// utilisation and frequency ratio) and a utilisation source; a power limit behaves like RAPL: the
// frequency is lowered until the modelled power fits under the limit (or the lowest frequency is
// reached: a limit below the power at f_min cannot be met, as on hardware).
// Units: watts, kHz, ms; utilisation 0..1.
import type { Clock } from '../../domain/clock.js';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import type {
  CpuFrequencyState, FrequencyActuator, PowerLimitActuator, PowerLimitState, PowerModel, PowerReading, PowerSensor,
} from '../../domain/ports/power.js';
import { checkEpp, checkFrequencyCap, checkGovernor, outOfBounds } from './cpufreq-limits.js';

/** Host CPU utilisation, 0..1, at the current simulated time. */
export interface UtilisationSource {
  utilisation(): number;
}

export function constantUtilisation(u: number): UtilisationSource & { set(u: number): void } {
  let value = u;
  return { utilisation: () => value, set: (v: number) => { value = v; } };
}

/** Steps through a trace (0..1 per step of stepMs, from the clock's time at creation), holding the last value. */
export function traceUtilisation(values: readonly number[], stepMs: number, clock: Clock): UtilisationSource {
  if (values.length === 0 || !(stepMs > 0)) throw new VmanageError(ErrorCodes.InvalidInput, 'trace utilisation: expected values and stepMs > 0', {});
  const start = clock.now();
  return { utilisation: () => values[Math.min(values.length - 1, Math.floor((clock.now() - start) / stepMs))] as number };
}

export interface SimPowerOptions {
  readonly model: PowerModel;
  readonly clock: Clock;
  readonly utilisation: UtilisationSource;
  readonly name?: string;
  readonly cpus?: number;
  readonly minKHz?: number;
  readonly maxKHz?: number;
  readonly availableKHz?: readonly number[];
  readonly governors?: readonly string[];
  /** EPP values; leave out to simulate a driver without EPP. */
  readonly epp?: readonly string[];
  readonly minLimitWatts?: number;
  readonly maxLimitWatts?: number;
}

export class SimPower {
  readonly name: string;
  readonly sensor: PowerSensor;
  readonly frequency: FrequencyActuator;
  readonly limit: PowerLimitActuator;
  readonly clock: Clock;
  readonly model: PowerModel;
  readonly minKHz: number;
  readonly maxKHz: number;
  capKHz: number;
  governor: string;
  epp: string | undefined;
  limitWatts: number | null = null;
  sensorFailing = false;
  private readonly utilisation: UtilisationSource;

  constructor(readonly options: SimPowerOptions) {
    this.name = options.name ?? 'sim';
    this.clock = options.clock;
    this.model = options.model;
    this.utilisation = options.utilisation;
    this.minKHz = options.minKHz ?? 1_000_000;
    this.maxKHz = options.maxKHz ?? 3_000_000;
    this.capKHz = this.maxKHz;
    this.governor = options.governors?.[0] ?? 'powersave';
    this.epp = options.epp?.includes('balance_performance') ? 'balance_performance' : options.epp?.[0];
    this.sensor = new SimPowerSensor(this);
    this.frequency = new SimFrequencyActuator(this);
    this.limit = new SimPowerLimit(this);
  }

  /** Frequency ratio (0..1] the simulated CPU runs at: the cap, lowered further by a power limit. */
  effectiveRatio(): number {
    const u = this.utilisation.utilisation();
    const capRatio = this.capKHz / this.maxKHz;
    const limit = this.limitWatts;
    if (limit === null || this.model.watts(u, capRatio) <= limit) return capRatio;
    let lo = this.minKHz / this.maxKHz;
    if (this.model.watts(u, lo) >= limit) return lo;
    let hi = capRatio;
    for (let i = 0; i < 30; i++) {
      const mid = (lo + hi) / 2;
      if (this.model.watts(u, mid) <= limit) lo = mid; else hi = mid;
    }
    return lo;
  }

  /** Modelled host power now, watts. */
  watts(): number {
    return this.model.watts(this.utilisation.utilisation(), this.effectiveRatio());
  }
}

class SimPowerSensor implements PowerSensor {
  readonly name: string;
  private lastGood?: PowerReading;

  constructor(private readonly sim: SimPower) {
    this.name = sim.name;
  }

  async read(): Promise<PowerReading> {
    if (this.sim.sensorFailing) throw new VmanageError(ErrorCodes.PowerSensorUnavailable, `${this.sim.name}: simulated sensor failure`, { source: this.sim.name });
    const reading = { watts: this.sim.watts(), timestamp: this.sim.clock.now(), source: this.sim.name, ageMs: 0, stale: false };
    this.lastGood = reading;
    return reading;
  }

  last(): PowerReading | undefined {
    const r = this.lastGood;
    return r && { ...r, stale: true, ageMs: Math.max(0, this.sim.clock.now() - r.timestamp) };
  }
}

class SimFrequencyActuator implements FrequencyActuator {
  constructor(private readonly sim: SimPower) {}

  async state(): Promise<CpuFrequencyState[]> {
    const s = this.sim;
    const o = s.options;
    return [{
      policy: 'policy0',
      cpus: Array.from({ length: o.cpus ?? 2 }, (_, i) => i),
      curKHz: Math.round(s.effectiveRatio() * s.maxKHz),
      scalingMinKHz: s.minKHz,
      scalingMaxKHz: s.capKHz,
      governor: s.governor,
      ...(s.epp === undefined ? {} : { epp: s.epp }),
      limits: {
        minKHz: s.minKHz, maxKHz: s.maxKHz, governors: o.governors ?? ['performance', 'powersave'],
        ...(o.availableKHz ? { availableKHz: [...o.availableKHz].sort((a, b) => a - b) } : {}),
        ...(o.epp ? { epp: o.epp } : {}),
      },
    }];
  }

  async setMaxFrequency(kHz: number): Promise<void> {
    checkFrequencyCap(kHz, await this.state());
    this.sim.capKHz = kHz;
  }

  async clearMaxFrequency(): Promise<void> {
    this.sim.capKHz = this.sim.maxKHz;
  }

  async setGovernor(governor: string): Promise<void> {
    checkGovernor(governor, await this.state());
    this.sim.governor = governor;
  }

  async setEpp(epp: string): Promise<void> {
    checkEpp(epp, await this.state(), 'sim');
    this.sim.epp = epp;
  }
}

class SimPowerLimit implements PowerLimitActuator {
  readonly name: string;

  constructor(private readonly sim: SimPower) {
    this.name = sim.name;
  }

  private bounds(): { min: number; max: number } {
    const o = this.sim.options;
    return { min: o.minLimitWatts ?? this.sim.model.idleWatts, max: o.maxLimitWatts ?? this.sim.model.peakWatts };
  }

  async state(): Promise<PowerLimitState> {
    const { min, max } = this.bounds();
    return { source: this.name, limitWatts: this.sim.limitWatts, minWatts: min, maxWatts: max };
  }

  async setLimit(watts: number): Promise<void> {
    if (!Number.isFinite(watts)) throw new VmanageError(ErrorCodes.InvalidInput, `${this.name} limit: expected finite watts, got ${watts}`, { value: watts });
    const { min, max } = this.bounds();
    if (watts < min) throw outOfBounds('minWatts', min, watts, 'W', this.name);
    if (watts > max) throw outOfBounds('maxWatts', max, watts, 'W', this.name);
    this.sim.limitWatts = watts;
  }

  async clearLimit(): Promise<void> {
    this.sim.limitWatts = null;
  }
}
