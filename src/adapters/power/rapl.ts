// RAPL through the powercap sysfs interface (Documentation/power/powercap/powercap.rst):
// /sys/class/powercap/intel-rapl:N is package N (name "package-N"), with energy_uj (a counter in
// microjoules that wraps at max_energy_range_uj) and constraint_0 (the long-term limit PL1:
// constraint_0_power_limit_uw, constraint_0_time_window_us, constraint_0_max_power_uw).
// Subzones intel-rapl:N:M (core, uncore, dram) are not summed: they are parts of the package
// (dram is outside it, but not host power either). Power = energy difference / time between two
// samples; one wrap between samples is undone with max_energy_range_uj, and samples further apart
// than maxIntervalMs are not trusted (several wraps cannot be told apart).
import { readdir } from 'node:fs/promises';
import type { Clock } from '../../domain/clock.js';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import type { PowerLimitActuator, PowerLimitState, PowerReading, PowerSensor } from '../../domain/ports/power.js';
import { outOfBounds } from './cpufreq-limits.js';
import { ioError, newSysfsCounters, parseWord, readAttr, readOptionalAttr, readUint, sysPath, writeAttr, type SysfsCounters } from './sysfs.js';

export const POWERCAP_CLASS = '/sys/class/powercap';

export interface RaplPackage {
  /** Zone directory name, e.g. "intel-rapl:0". */
  readonly zone: string;
  /** Zone name from sysfs, e.g. "package-0". */
  readonly name: string;
  readonly dir: string;
}

/** Top-level RAPL zones (packages), in numeric order. */
export async function discoverRaplPackages(root: string, counters?: SysfsCounters): Promise<RaplPackage[]> {
  const cls = sysPath(root, POWERCAP_CLASS);
  let entries: string[];
  try {
    entries = await readdir(cls);
  } catch (err) {
    throw ioError(err, 'read', cls, counters);
  }
  const zones = entries.filter((e) => /^intel-rapl:\d{1,4}$/.test(e)).sort((a, b) => Number(a.split(':')[1]) - Number(b.split(':')[1]));
  if (zones.length === 0) throw new VmanageError(ErrorCodes.Unsupported, `no RAPL package zone under ${cls}`, { path: cls });
  return await Promise.all(zones.map(async (zone) => {
    const dir = `${cls}/${zone}`;
    return { zone, dir, name: parseWord(`${dir}/name`, await readAttr(`${dir}/name`, counters), counters) };
  }));
}

interface Sample {
  readonly t: number;
  readonly energyUj: readonly number[];
  readonly rangeUj: readonly number[];
}

/** Energy difference in µJ from e1 to e2 on a counter that wraps to 0 after rangeUj. */
export function energyDelta(e1: number, e2: number, rangeUj: number): number {
  return e2 >= e1 ? e2 - e1 : rangeUj - e1 + e2;
}

function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimer(ms, resolve));
}

export interface RaplSensorOptions {
  readonly root?: string;
  readonly clock: Clock;
  /** Gap between the two samples of a read without a usable previous sample, ms. */
  readonly sampleMs?: number;
  /** A previous sample older than this is not used (counter may have wrapped more than once), ms. */
  readonly maxIntervalMs?: number;
  /**
   * Reads closer together than this return the last reading with its age (ageMs > 0): the
   * counter moves in ~1 ms steps, so power over a shorter interval is mostly noise. ms, default 10.
   */
  readonly minIntervalMs?: number;
  readonly counters?: SysfsCounters;
}

/** Host package power (sum over RAPL packages), watts. */
export class RaplSensor implements PowerSensor {
  readonly name = 'rapl';
  readonly counters: SysfsCounters;
  private readonly root: string;
  private readonly clock: Clock;
  private readonly sampleMs: number;
  private readonly maxIntervalMs: number;
  private readonly minIntervalMs: number;
  private packages?: RaplPackage[];
  private prev?: Sample;
  private lastGood?: PowerReading;

  constructor(options: RaplSensorOptions) {
    this.root = options.root ?? '/';
    this.clock = options.clock;
    this.sampleMs = options.sampleMs ?? 100;
    this.maxIntervalMs = options.maxIntervalMs ?? 60_000;
    this.minIntervalMs = options.minIntervalMs ?? 10;
    this.counters = options.counters ?? newSysfsCounters();
  }

  /** Takes a baseline sample so that the next read() needs no wait. */
  async prime(): Promise<void> {
    this.prev = await this.sample();
  }

  async read(): Promise<PowerReading> {
    const recent = this.lastGood;
    const age = recent ? this.clock.now() - recent.timestamp : Infinity;
    if (recent && this.prev && age >= 0 && age < this.minIntervalMs) return { ...recent, ageMs: age };
    try {
      let prev = this.prev;
      let cur = await this.sample();
      if (!prev || cur.t - prev.t <= 0 || cur.t - prev.t > this.maxIntervalMs) {
        prev = cur;
        await sleep(this.clock, this.sampleMs);
        cur = await this.sample();
      }
      this.prev = cur;
      const dtMs = cur.t - prev.t;
      if (dtMs <= 0) throw new VmanageError(ErrorCodes.PowerSensorUnavailable, 'rapl: the clock did not advance between samples', {});
      let uj = 0;
      cur.energyUj.forEach((e2, i) => { uj += energyDelta(prev.energyUj[i] as number, e2, cur.rangeUj[i] as number); });
      const reading: PowerReading = { watts: uj / (dtMs * 1000), timestamp: cur.t, source: this.source(), ageMs: 0, stale: false };
      this.lastGood = reading;
      return reading;
    } catch (err) {
      this.prev = undefined;
      if (err instanceof VmanageError && err.code === ErrorCodes.PowerSensorUnavailable) throw err;
      throw new VmanageError(ErrorCodes.PowerSensorUnavailable, `rapl: ${(err as Error).message}`, { source: this.source() }, { cause: err });
    }
  }

  last(): PowerReading | undefined {
    const r = this.lastGood;
    return r && { ...r, stale: true, ageMs: Math.max(0, this.clock.now() - r.timestamp) };
  }

  private source(): string {
    return `rapl:${(this.packages ?? []).map((p) => p.name).join('+') || 'unknown'}`;
  }

  private async sample(): Promise<Sample> {
    this.packages ??= await discoverRaplPackages(this.root, this.counters);
    const c = this.counters;
    const values = await Promise.all(this.packages.map(async (p) => {
      const [e, range] = await Promise.all([readUint(`${p.dir}/energy_uj`, c), readUint(`${p.dir}/max_energy_range_uj`, c)]);
      if (range === 0 || e > range) {
        c.malformed++;
        throw new VmanageError(ErrorCodes.InvalidInput, `${p.dir}/energy_uj ${e} is outside [0, max_energy_range_uj ${range}]`, { path: `${p.dir}/energy_uj` });
      }
      return [e, range] as const;
    }));
    return { t: this.clock.now(), energyUj: values.map((v) => v[0]), rangeUj: values.map((v) => v[1]) };
  }
}

export interface RaplLimitOptions {
  readonly root?: string;
  /** Lowest limit accepted per package, watts (RAPL has no such attribute; very low PL1 stalls a host). Default 10. */
  readonly minWattsPerPackage?: number;
  /** Read-back tolerance: hardware rounds limits to its power unit (often 1/8 W), µW. Default 125000. */
  readonly toleranceUw?: number;
  readonly counters?: SysfsCounters;
}

/** The package long-term limit (PL1) of all packages; a host limit is split equally between them. */
export class RaplPowerLimit implements PowerLimitActuator {
  readonly name = 'rapl';
  readonly counters: SysfsCounters;
  private readonly root: string;
  private readonly minWattsPerPackage: number;
  private readonly toleranceUw: number;
  private packages?: RaplPackage[];

  constructor(options: RaplLimitOptions = {}) {
    this.root = options.root ?? '/';
    this.minWattsPerPackage = options.minWattsPerPackage ?? 10;
    this.toleranceUw = options.toleranceUw ?? 125_000;
    this.counters = options.counters ?? newSysfsCounters();
  }

  async state(): Promise<PowerLimitState> {
    const zones = await this.zones();
    let limitUw = 0;
    let maxUw = 0;
    let allEnabled = true;
    for (const z of zones) {
      limitUw += z.limitUw;
      maxUw += z.maxUw ?? 0;
      allEnabled &&= z.enabled;
    }
    return {
      source: this.name,
      limitWatts: allEnabled ? limitUw / 1e6 : null,
      minWatts: this.minWattsPerPackage * zones.length,
      ...(zones.every((z) => z.maxUw) ? { maxWatts: maxUw / 1e6 } : {}),
    };
  }

  /** Sets PL1 to watts / packages on each package, enables it, reads both back. */
  async setLimit(watts: number): Promise<void> {
    if (!Number.isFinite(watts) || watts <= 0) throw new VmanageError(ErrorCodes.InvalidInput, `rapl limit: expected positive watts, got ${watts}`, { value: watts });
    const zones = await this.zones();
    const perUw = Math.round((watts / zones.length) * 1e6);
    const min = this.minWattsPerPackage * zones.length;
    if (watts < min) throw outOfBounds('minimum package limit (minWattsPerPackage x packages)', min, watts, 'W', 'rapl');
    for (const z of zones) {
      if (z.maxUw && perUw > z.maxUw) throw outOfBounds('constraint_0_max_power_uw', (z.maxUw * zones.length) / 1e6, watts, 'W', `rapl ${z.pkg.name} (x${zones.length} packages)`);
    }
    for (const z of zones) {
      await writeAttr(`${z.pkg.dir}/constraint_0_power_limit_uw`, perUw, this.counters);
      await writeAttr(`${z.pkg.dir}/enabled`, 1, this.counters);
    }
    for (const z of await this.zones()) {
      if (!z.enabled || Math.abs(z.limitUw - perUw) > this.toleranceUw) {
        throw new VmanageError(ErrorCodes.PowerCapRejected, `rapl ${z.pkg.name}: set ${perUw} uW, reads back ${z.limitUw} uW (enabled ${z.enabled})`, { zone: z.pkg.zone, wanted: perUw, readBack: z.limitUw });
      }
    }
  }

  /** Disables PL1 limiting and restores the limit to constraint_0_max_power_uw (the TDP). */
  async clearLimit(): Promise<void> {
    for (const z of await this.zones()) {
      if (z.maxUw) await writeAttr(`${z.pkg.dir}/constraint_0_power_limit_uw`, z.maxUw, this.counters);
      await writeAttr(`${z.pkg.dir}/enabled`, 0, this.counters);
    }
    for (const z of await this.zones()) {
      if (z.enabled) throw new VmanageError(ErrorCodes.PowerCapRejected, `rapl ${z.pkg.name}: still enabled after clearing (locked by firmware?)`, { zone: z.pkg.zone });
    }
  }

  private async zones(): Promise<{ pkg: RaplPackage; limitUw: number; maxUw: number | undefined; enabled: boolean }[]> {
    this.packages ??= await discoverRaplPackages(this.root, this.counters);
    const c = this.counters;
    return await Promise.all(this.packages.map(async (pkg) => {
      const [constraint, limitUw, enabled, maxText] = await Promise.all([
        readAttr(`${pkg.dir}/constraint_0_name`, c),
        readUint(`${pkg.dir}/constraint_0_power_limit_uw`, c), readUint(`${pkg.dir}/enabled`, c),
        readOptionalAttr(`${pkg.dir}/constraint_0_max_power_uw`, c),
      ]);
      // PL1 is constraint_0 ("long_term") on every RAPL package the kernel knows; refuse otherwise.
      if (constraint !== 'long_term') {
        throw new VmanageError(ErrorCodes.Unsupported, `${pkg.dir}/constraint_0_name is ${JSON.stringify(constraint.slice(0, 40))}, not long_term`, { adapter: 'rapl', capability: 'package long-term limit' });
      }
      const maxUw = maxText === undefined || maxText === '0' ? undefined : Number(/^\d{1,16}$/.test(maxText) ? maxText : NaN);
      if (maxUw !== undefined && !Number.isSafeInteger(maxUw)) {
        c.malformed++;
        throw new VmanageError(ErrorCodes.InvalidInput, `${pkg.dir}/constraint_0_max_power_uw: expected an unsigned integer, got ${JSON.stringify(maxText)}`, { path: `${pkg.dir}/constraint_0_max_power_uw` });
      }
      return { pkg, limitUw, maxUw, enabled: enabled === 1 };
    }));
  }
}
