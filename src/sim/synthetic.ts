// A built-in synthetic workload, so `vmanage sim` and the demo run on a fresh clone with no trace
// files. Shaped after the PlanetLab days (docs/simulator.md): per-VM mean utilisation skewed low
// (most VMs near 5-15 %, a few busy ones), a diurnal swing, autocorrelated noise and rare bursts.
// Deterministic for a given seed. Not a substitute for real traces when judging a policy.
import { seededRandom, type Random } from '../domain/clock.js';
import { VmanageError, ErrorCodes } from '../domain/errors.js';
import type { Workload } from './workload.js';

export interface SyntheticOptions {
  readonly vms: number;        // number of VMs
  readonly intervals: number;  // number of 5-minute steps (288 = one day)
  readonly seed: number;
}

export const SYNTHETIC_DEFAULTS: SyntheticOptions = { vms: 1000, intervals: 288, seed: 1 };

/** `synthetic`, `synthetic:VMS` or `synthetic:VMS:SEED`; undefined when spec is not of that form. */
export function parseSyntheticSpec(spec: string): SyntheticOptions | undefined {
  const m = /^synthetic(?::(\d+))?(?::(\d+))?$/.exec(spec);
  if (!m) return undefined;
  const vms = m[1] ? Number(m[1]) : SYNTHETIC_DEFAULTS.vms;
  if (vms < 1 || vms > 100_000) {
    throw new VmanageError(ErrorCodes.InvalidInput, `--workload ${spec}: VM count must be 1..100000`, { spec });
  }
  return { vms, intervals: SYNTHETIC_DEFAULTS.intervals, seed: m[2] ? Number(m[2]) : SYNTHETIC_DEFAULTS.seed };
}

function gaussian(r: Random): number {
  // Box-Muller; 1 - next() keeps log away from 0.
  return Math.sqrt(-2 * Math.log(1 - r.next())) * Math.cos(2 * Math.PI * r.next());
}

export function syntheticWorkload(opts: SyntheticOptions = SYNTHETIC_DEFAULTS): Workload {
  const r = seededRandom(opts.seed);
  const utilisation: Float64Array[] = [];
  const vmNames: string[] = [];
  for (let v = 0; v < opts.vms; v++) {
    const base = Math.min(0.8, Math.exp(-2.6 + 0.9 * gaussian(r)));     // median ~7 %
    const swing = base * (0.3 + 0.5 * r.next());                          // diurnal amplitude
    const phase = 2 * Math.PI * r.next();
    const series = new Float64Array(opts.intervals);
    let noise = 0;
    let burst = 0;
    for (let k = 0; k < opts.intervals; k++) {
      noise = 0.8 * noise + 0.2 * gaussian(r) * base;
      if (burst > 0) burst--;
      else if (r.next() < 0.004) burst = 3 + Math.floor(r.next() * 12);  // ~1 burst a day, 15-75 min
      const diurnal = swing * Math.sin((2 * Math.PI * k) / 288 + phase);
      const u = burst > 0 ? 0.7 + 0.29 * r.next() : base + diurnal + noise;
      series[k] = Math.round(Math.min(0.99, Math.max(0, u)) * 100) / 100;
    }
    utilisation.push(series);
    vmNames.push(`synthetic-${String(v).padStart(5, '0')}`);
  }
  return { source: `synthetic:${opts.vms}:${opts.seed}`, vmNames, utilisation, intervals: opts.intervals };
}
