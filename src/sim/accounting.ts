// CloudSim-compatible accounting (Beloglazov & Buyya 2012, CloudSim 5's PowerDatacenter and
// its example Helper), learnt from their descriptions, written here from scratch:
// - the state recorded at a time point holds until the next point (a step or the end of a
//   migration);
// - energy of a host over a segment = trapezoid between its power at the start and at the end,
//   and 0 when its utilisation at the start is 0 (an idle host counts as switched off);
// - SLATAH = time an active host got less CPU than its VMs asked for / active host time (pooled);
// - PDM = CPU a VM did not get while migrating / CPU requested (pooled over VMs).
// Units: joules, seconds, MIPS*s.
import type { Datacenter } from './datacenter.js';

export interface Totals {
  energyJ: number;
  hostActiveS: number;
  hostViolationS: number;
  vmRequestedMipsS: number;
  vmMigrationShortMipsS: number;
  vmViolationS: number;
  vmLiveS: number;
  budgetViolationS: number;
  hostS: number;
  /** Demand-weighted slowdown (see LATENCY below) x MIPS*s, and the time it exceeded the limit. */
  vmSlowdownMipsS: number;
  vmLatencyViolationS: number;
}

/**
 * Latency model: a VM that gets a MIPS while it needs d serves its work d / a times slower
 * (processor sharing), so its response time is multiplied by d / a (capped at maxSlowdown when
 * it gets nothing). The SLA on latency is broken while the slowdown exceeds `limit` (1.2 =
 * response time 20 % above the uncontended one; a migrating VM's 10 % loss stays within it).
 */
export const LATENCY = { limit: 1.2, maxSlowdown: 10 } as const;

export class Accounting {
  readonly totals: Totals = {
    energyJ: 0, hostActiveS: 0, hostViolationS: 0, vmRequestedMipsS: 0, vmMigrationShortMipsS: 0,
    vmViolationS: 0, vmLiveS: 0, budgetViolationS: 0, hostS: 0, vmSlowdownMipsS: 0, vmLatencyViolationS: 0,
  };
  private readonly hostUtil: Float64Array;
  private readonly hostReq: Float64Array;
  private readonly hostFreq: Float64Array;
  private readonly vmAlloc: Float64Array;
  private readonly vmReq: Float64Array;
  private readonly vmMig: Uint8Array;
  /** Power per host at the start of the segment, W (for budget accounting and reports). */
  readonly hostWatts: Float64Array;
  private started = false;

  constructor(private readonly dc: Datacenter, private readonly nonPowerAware = false) {
    this.hostUtil = new Float64Array(dc.hostCount);
    this.hostReq = new Float64Array(dc.hostCount);
    this.hostFreq = new Float64Array(dc.hostCount).fill(1);
    this.vmAlloc = new Float64Array(dc.vmCount);
    this.vmReq = new Float64Array(dc.vmCount);
    this.vmMig = new Uint8Array(dc.vmCount);
    this.hostWatts = new Float64Array(dc.hostCount);
  }

  /** Power of host h at utilisation u (0..1) and its current frequency ratio, W. */
  private watts(h: number, u: number, r: number): number {
    const spec = this.dc.setup.hosts[h];
    if (!spec) return 0;
    return spec.power.watts(u > 1 ? 1 : u, r);
  }

  /** Records the state after every change at this time point (dc.measure must be current). */
  record(): void {
    const dc = this.dc;
    this.started = true;
    for (let h = 0; h < dc.hostCount; h++) {
      const util = dc.measure.utilMips[h] as number;
      const r = dc.freqRatio[h] as number;
      this.hostUtil[h] = util;
      this.hostReq[h] = dc.measure.requested[h] as number;
      this.hostFreq[h] = r;
      this.hostWatts[h] = util > 0 ? this.watts(h, dc.utilisation(h), r) : 0;
    }
    for (let v = 0; v < dc.vmCount; v++) {
      const src = dc.vmHost[v] as number;
      if (src < 0) { this.vmReq[v] = 0; this.vmAlloc[v] = 0; continue; }
      const tgt = dc.vmTarget[v] as number;
      this.vmReq[v] = dc.demand[v] as number;
      // Only the host a VM runs on (the source while migrating) records the VM's state.
      this.vmAlloc[v] = dc.allocSource[v] as number;
      this.vmMig[v] = tgt >= 0 ? 1 : 0;
    }
  }

  /**
   * Closes the segment of length dt (s) that started at the last record(); dc.measure holds the
   * state at its end, before any change made at that time. countBudget: count time over dc.capWatts.
   */
  segment(dt: number, countBudget = false): void {
    if (!this.started || dt <= 0) return;
    const dc = this.dc;
    const t = this.totals;
    for (let h = 0; h < dc.hostCount; h++) {
      const from = this.hostUtil[h] as number;
      const total = dc.totalMips[h] as number;
      if (this.nonPowerAware) t.energyJ += (dc.setup.hosts[h]?.power.peakWatts ?? 0) * dt;
      else if (from > 0) {
        const to = (dc.measure.utilMips[h] as number) / (total * (this.hostFreq[h] as number));
        t.energyJ += ((this.hostWatts[h] as number) + this.watts(h, to, this.hostFreq[h] as number)) / 2 * dt;
      }
      t.hostS += dt;
      if (countBudget && (this.hostWatts[h] as number) > (dc.capWatts[h] as number) + 1e-6) t.budgetViolationS += dt;
      if (from > 0) {
        t.hostActiveS += dt;
        if (from < (this.hostReq[h] as number)) t.hostViolationS += dt;
      }
    }
    for (let v = 0; v < dc.vmCount; v++) {
      const req = this.vmReq[v] as number;
      if ((dc.vmHost[v] as number) < 0) continue;
      t.vmLiveS += dt;
      t.vmRequestedMipsS += req * dt;
      const a = this.vmAlloc[v] as number;
      const slowdown = a >= req ? 1 : a > 0 ? Math.min(LATENCY.maxSlowdown, req / a) : LATENCY.maxSlowdown;
      t.vmSlowdownMipsS += slowdown * req * dt;
      if (slowdown > LATENCY.limit) t.vmLatencyViolationS += dt;
      if (a < req) {
        t.vmViolationS += dt;
        if (this.vmMig[v]) t.vmMigrationShortMipsS += (req - a) * dt;
      }
    }
  }
}

export interface Metrics {
  energyKWh: number;
  /** Fractions (CloudSim prints them as percent). slav = slatah * pdm; esv = energyKWh * slav. */
  slatah: number;
  pdm: number;
  slav: number;
  esv: number;
  migrations: number;
  /** Share of VM time with CPU demand not met, percent. */
  slaViolationPct: number;
  /** Share of host time over the host's power cap, percent (0 without a budget). */
  budgetViolationPct: number;
  /** Latency model (LATENCY): demand-weighted mean response-time factor (1 = uncontended). */
  meanSlowdown: number;
  /** Share of VM time with response time over LATENCY.limit x the uncontended one, percent. */
  latencyViolationPct: number;
  frequencyChanges: number;
}

export function metricsOf(t: Totals, migrations: number, frequencyChanges: number): Metrics {
  const energyKWh = t.energyJ / 3.6e6;
  const slatah = t.hostActiveS > 0 ? t.hostViolationS / t.hostActiveS : 0;
  const pdm = t.vmRequestedMipsS > 0 ? t.vmMigrationShortMipsS / t.vmRequestedMipsS : 0;
  const slav = slatah * pdm;
  return {
    energyKWh, slatah, pdm, slav, esv: energyKWh * slav, migrations,
    slaViolationPct: t.vmLiveS > 0 ? (100 * t.vmViolationS) / t.vmLiveS : 0,
    budgetViolationPct: t.hostS > 0 ? (100 * t.budgetViolationS) / t.hostS : 0,
    meanSlowdown: t.vmRequestedMipsS > 0 ? t.vmSlowdownMipsS / t.vmRequestedMipsS : 1,
    latencyViolationPct: t.vmLiveS > 0 ? (100 * t.vmLatencyViolationS) / t.vmLiveS : 0,
    frequencyChanges,
  };
}
