// Host power models (pure). Units: watts (W); utilisation and frequency ratio are fractions 0..1.
//
// 1. SPECpower-style table model: the SPECpower_ssj2008 result of a server gives its average
//    power at 11 target loads (active idle, 10 %, ..., 100 %). Between two points we interpolate
//    linearly, which is what CloudSim's PowerModelSpecPower does and what the PlanetLab reference
//    set-up (data/planetlab/README.md) expects, so the simulator's accounting can be compared.
//
// 2. DVFS-aware model: P(u, r) = idle + (P_table(u) - idle) * f(r), where r = f_cur / f_max.
//    Why this shape: the idle part (fans, memory, disks, chipset, leakage at the lowest P-state)
//    hardly moves with the CPU clock, while the dynamic CPU power is C * V^2 * f. Inside the DVFS
//    range the voltage falls with frequency, but not below the lowest operating voltage, so
//    V(r) = vFloor + (1 - vFloor) * r (a straight line from vFloor at r = 0 to 1 at r = 1) and
//        f(r) = r * V(r)^2.
//    vFloor = 0 gives the textbook cubic law (which overstates savings at low clocks); vFloor = 1
//    gives a linear law (frequency-only scaling, no voltage change). The default 0.6 is a typical
//    Vmin/Vmax ratio of server parts. When measurements exist, pass them as a table of
//    (ratio, factor) points instead; it is interpolated linearly like the load table.
//    `u` is the utilisation measured at the current frequency: the same work at a lower clock
//    shows as a higher u; converting work to utilisation is the caller's (simulator's) job.
import { VmanageError, ErrorCodes } from './errors.js';
import type { PowerModel } from './ports/power.js';

/** Average power (W) at 0, 10, ..., 100 % utilisation: exactly 11 non-decreasing points. */
export interface SpecPowerTable {
  readonly name: string;
  readonly watts: readonly number[];
}

/** SPECpower results used by CloudSim's PlanetLab set-up (watts at 0..100 % in 10 % steps). */
export const SPECPOWER_TABLES = {
  'hp-proliant-ml110-g4': { name: 'HP ProLiant ML110 G4 (Xeon 3040)', watts: [86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117] },
  'hp-proliant-ml110-g5': { name: 'HP ProLiant ML110 G5 (Xeon 3075)', watts: [93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135] },
} as const satisfies Record<string, SpecPowerTable>;

export type SpecPowerTableId = keyof typeof SPECPOWER_TABLES;

function invalid(what: string, expected: string, got: unknown): VmanageError {
  return new VmanageError(ErrorCodes.InvalidInput, `${what}: expected ${expected}, got ${String(got)}`, { what, expected, got });
}

function clamp01(x: number, what: string): number {
  if (!Number.isFinite(x)) throw invalid(what, 'a finite number in [0, 1]', x);
  return Math.min(1, Math.max(0, x));
}

/** Linear interpolation over evenly spaced points on [0, 1]. */
function interpolateEven(points: readonly number[], x: number): number {
  const steps = points.length - 1;
  const pos = x * steps;
  const i = Math.min(steps - 1, Math.floor(pos));
  const lo = points[i] as number;
  const hi = points[i + 1] as number;
  return lo + (hi - lo) * (pos - i);
}

export function validateTable(table: SpecPowerTable): void {
  const w = table.watts;
  if (w.length !== 11) throw invalid(`power table ${table.name}`, '11 points (0, 10, ..., 100 %)', `${w.length} points`);
  w.forEach((v, i) => {
    if (!Number.isFinite(v) || v < 0) throw invalid(`power table ${table.name} point ${i * 10} %`, 'watts >= 0', v);
    if (i > 0 && v < (w[i - 1] as number)) throw invalid(`power table ${table.name} point ${i * 10} %`, `>= the ${(i - 1) * 10} % point (${w[i - 1]} W)`, v);
  });
}

/** SPECpower table model. Frequency ratio is ignored (use dvfsModel for that). */
export function tableModel(table: SpecPowerTable): PowerModel {
  validateTable(table);
  const points = [...table.watts];
  return {
    idleWatts: points[0] as number,
    peakWatts: points[10] as number,
    watts: (u: number) => interpolateEven(points, clamp01(u, 'utilisation')),
  };
}

/** A measured frequency law: points (ratio, factor), ratios strictly increasing, last ratio 1. */
export type FrequencyLawPoints = readonly (readonly [ratio: number, factor: number])[];

export interface DvfsOptions {
  /** Lowest voltage as a fraction of the voltage at f_max (0..1); default 0.6. */
  readonly vFloor?: number;
  /** Measured dynamic-power factor by frequency ratio; overrides vFloor when given. */
  readonly law?: FrequencyLawPoints;
}

/** f(r) = r * (vFloor + (1 - vFloor) r)^2: dynamic power share left at frequency ratio r. */
export function voltageFloorLaw(vFloor: number): (r: number) => number {
  if (!(vFloor >= 0 && vFloor <= 1)) throw invalid('vFloor', 'a number in [0, 1]', vFloor);
  return (r) => {
    const v = vFloor + (1 - vFloor) * r;
    return r * v * v;
  };
}

export function tableLaw(points: FrequencyLawPoints): (r: number) => number {
  if (points.length < 2) throw invalid('frequency law', 'at least 2 points', points.length);
  points.forEach(([r, f], i) => {
    if (!(r > 0 && r <= 1) || !(f >= 0 && f <= 1)) throw invalid(`frequency law point ${i}`, 'ratio in (0, 1] and factor in [0, 1]', `(${r}, ${f})`);
    if (i > 0 && r <= (points[i - 1] as readonly number[])[0]!) throw invalid(`frequency law point ${i}`, 'ratios strictly increasing', r);
  });
  const last = points[points.length - 1] as readonly number[];
  if (last[0] !== 1 || last[1] !== 1) throw invalid('frequency law', 'last point (1, 1)', `(${last[0]}, ${last[1]})`);
  return (r) => {
    const first = points[0] as readonly number[];
    if (r <= first[0]!) return (first[1]! * r) / first[0]!; // towards 0 W dynamic at r = 0
    for (let i = 1; i < points.length; i++) {
      const [r1, f1] = points[i] as readonly [number, number];
      const [r0, f0] = points[i - 1] as readonly [number, number];
      if (r <= r1) return f0 + ((f1 - f0) * (r - r0)) / (r1 - r0);
    }
    return 1;
  };
}

/**
 * DVFS-aware model over a base (table) model: watts(u, r) = idle + (base(u) - idle) * f(r).
 * r defaults to 1 (full frequency), which gives exactly the base model.
 */
export function dvfsModel(base: PowerModel, options: DvfsOptions = {}): PowerModel {
  const f = options.law ? tableLaw(options.law) : voltageFloorLaw(options.vFloor ?? 0.6);
  return {
    idleWatts: base.idleWatts,
    peakWatts: base.peakWatts,
    watts: (u: number, r = 1) => {
      if (!Number.isFinite(r) || r <= 0 || r > 1) throw invalid('frequency ratio', 'a number in (0, 1]', r);
      const busy = base.watts(u);
      return base.idleWatts + (busy - base.idleWatts) * f(r);
    },
  };
}

/** The SPECpower table model by id, optionally DVFS-aware. */
export function specPowerModel(id: SpecPowerTableId, dvfs?: DvfsOptions): PowerModel {
  const base = tableModel(SPECPOWER_TABLES[id]);
  return dvfs ? dvfsModel(base, dvfs) : base;
}
