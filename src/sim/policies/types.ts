// One interface for every simulated policy (CloudSim baselines, uncoordinated, vmanage).
// A policy returns decisions; the runner applies them (and owns the accounting).
import type { Datacenter } from '../datacenter.js';

export interface Migration {
  readonly vm: number;
  readonly target: number;
  /** Why (overload, underload, budget, ...), for logs and reports. */
  readonly reason: string;
}

export interface StepContext {
  /** Trace interval index. */
  readonly step: number;
  /** Simulated time, s. */
  readonly timeS: number;
  /** Per-host power cap, W (capped scenario), or undefined. */
  readonly caps?: Float64Array;
  /** Cluster power budget, W, or undefined. */
  readonly budgetW?: number;
}

export interface SimPolicy {
  readonly name: string;
  /** Energy counted as every host at peak power all the time (CloudSim's NPA). */
  readonly nonPowerAware?: boolean;
  /** Places every VM at time 0 (dc.place); returns how many found no host. */
  initialPlacement(dc: Datacenter): number;
  /** Migrations to start at this step (dc.demand and dc.measure are current). */
  migrations(dc: Datacenter, ctx: StepContext): Migration[];
  /** Sets host frequencies / caps for this step (dc.freqRatio); returns how many changed. */
  control?(dc: Datacenter, ctx: StepContext): number;
  /** Counters of the policy's own decisions (which rule fired how often), for reports. */
  diagnostics?(): Record<string, unknown>;
}
