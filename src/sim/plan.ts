// A scratch copy of the placement that a migration policy edits while it decides (nothing moves
// until the runner applies the returned migrations). Mirrors what CloudSim's allocation policy
// sees: per host its VMs, the CPU they are allocated, free CPU / RAM / bandwidth, and the host's
// utilisation as last measured ("stale" while planning). Units: MIPS, MB, kbit/s.
import type { Datacenter } from './datacenter.js';

/** VM utilisation history kept per VM (newest first), as CloudSim's PowerVm keeps 30. */
export const HISTORY_LENGTH = 30;

export class Plan {
  readonly vms: number[][];
  readonly alloc: Float64Array;
  readonly avail: Float64Array;
  readonly demandSum: Float64Array;
  readonly ramFree: Float64Array;
  readonly bwFree: Float64Array;
  readonly staleUtil: Float64Array;
  private readonly hist: Float64Array;

  /** step: the trace interval being planned (history = the samples of steps 1..step). */
  constructor(readonly dc: Datacenter, readonly step: number) {
    const n = dc.hostCount;
    this.vms = dc.hostVms.map((l) => l.slice());
    this.alloc = new Float64Array(n);
    this.avail = new Float64Array(n);
    this.demandSum = new Float64Array(n);
    this.ramFree = new Float64Array(n);
    this.bwFree = new Float64Array(n);
    this.staleUtil = new Float64Array(n);
    this.hist = new Float64Array(n * HISTORY_LENGTH);
    for (let h = 0; h < n; h++) {
      const spec = dc.setup.hosts[h];
      this.ramFree[h] = (spec?.ramMb ?? 0) - (dc.ramUsed[h] as number);
      this.bwFree[h] = (spec?.bwKbps ?? 0) - (dc.bwUsed[h] as number);
      this.staleUtil[h] = dc.utilisation(h);
      this.recompute(h);
    }
  }

  histLength(): number {
    return Math.min(this.step, HISTORY_LENGTH);
  }

  /** VM v's utilisation (fraction of its MIPS) j samples back. */
  vmHistory(v: number, j: number): number {
    return (this.dc.workload.utilisation[v] as Float64Array)[this.step - j] as number;
  }

  /** Re-derives allocation, free CPU and host history of host h from its VM list. */
  recompute(h: number): void {
    const dc = this.dc;
    const list = this.vms[h] as number[];
    const total = dc.totalMips[h] as number;
    const pe = dc.peMips[h] as number;
    let sum = 0;
    let dsum = 0;
    for (const v of list) {
      const d = dc.demand[v] as number;
      sum += d < pe ? d : pe;
      dsum += d;
    }
    this.demandSum[h] = dsum;
    if (sum <= total) {
      this.alloc[h] = sum;
      this.avail[h] = total - sum;
    } else {
      const s = total / sum;
      let a = 0;
      for (const v of list) {
        const d = dc.demand[v] as number;
        a += Math.floor((d < pe ? d : pe) * s);
      }
      this.alloc[h] = a;
      this.avail[h] = 0;
    }
    const base = h * HISTORY_LENGTH;
    const len = this.histLength();
    this.hist.fill(0, base, base + HISTORY_LENGTH);
    for (const v of list) {
      const w = (dc.setup.vms[v]?.mips ?? 0) / total;
      for (let j = 0; j < len; j++) this.hist[base + j] = (this.hist[base + j] ?? 0) + (this.vmHistory(v, j) * w);
    }
  }

  /**
   * Host utilisation history (newest first), with VM `extra` added when >= 0, trimmed of its
   * zero tail (CloudSim's trimZeroTail). Written into `out`; returns its length.
   */
  hostHistory(h: number, extra: number, out: Float64Array): number {
    const base = h * HISTORY_LENGTH;
    const len = this.histLength();
    const w = extra >= 0 ? (this.dc.setup.vms[extra]?.mips ?? 0) / (this.dc.totalMips[h] as number) : 0;
    let last = 0;
    for (let j = 0; j < len; j++) {
      const x = (this.hist[base + j] as number) + (extra >= 0 ? this.vmHistory(extra, j) * w : 0);
      out[j] = x;
      if (x !== 0) last = j + 1;
    }
    return last;
  }

  add(v: number, h: number): void {
    const spec = this.dc.setup.vms[v];
    (this.vms[h] as number[]).push(v);
    this.ramFree[h] = (this.ramFree[h] ?? 0) - (spec?.ramMb ?? 0);
    this.bwFree[h] = (this.bwFree[h] ?? 0) - (spec?.bwKbps ?? 0);
    this.recompute(h);
  }

  remove(v: number, h: number): void {
    const spec = this.dc.setup.vms[v];
    const list = this.vms[h] as number[];
    const i = list.indexOf(v);
    if (i < 0) return;
    list.splice(i, 1);
    this.ramFree[h] = (this.ramFree[h] ?? 0) + (spec?.ramMb ?? 0);
    this.bwFree[h] = (this.bwFree[h] ?? 0) + (spec?.bwKbps ?? 0);
    this.recompute(h);
  }

  /** CloudSim's isSuitableForVm: one core holds the demand, free CPU, RAM and bandwidth. */
  suitable(v: number, h: number): boolean {
    const d = this.dc.demand[v] as number;
    if ((this.dc.peMips[h] as number) < d || (this.avail[h] as number) < d) return false;
    if (!this.dc.setup.memoryLimitsMigration) return true;
    const spec = this.dc.setup.vms[v];
    return (this.ramFree[h] as number) >= (spec?.ramMb ?? Infinity) && (this.bwFree[h] as number) >= (spec?.bwKbps ?? Infinity);
  }
}
