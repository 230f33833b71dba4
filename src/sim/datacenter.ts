// The simulated data centre: where each VM runs, the migrations in flight, and the CPU each VM
// gets. The allocation follows CloudSim's time-shared over-subscription scheduler so that energy,
// SLATAH and PDM can be compared with CloudSim's own results:
// - a VM asks for its demand, capped at one core (1 vCPU);
// - a migrating VM costs the destination 10 % of its demand and runs at 90 % at the source;
// - when the host's cores cannot hold every request, every VM is scaled by the same factor
//   (rounded down to whole MIPS, as CloudSim does).
// Units: MIPS, MB, kbit/s, seconds.
import { hostTotalMips, type SimSetup } from './setup.js';
import type { Workload } from './workload.js';

export interface HostMeasure {
  /** CPU the host's VMs get, MIPS (a migrating VM counted at full size at its source). */
  utilMips: Float64Array;
  /** CPU its VMs ask for, MIPS (a VM migrating in counted at full demand). */
  requested: Float64Array;
}

export class Datacenter {
  readonly hostCount: number;
  readonly vmCount: number;
  readonly totalMips: Float64Array;
  readonly peMips: Float64Array;
  /** VMs on each host in arrival order; includes VMs migrating in. */
  readonly hostVms: number[][];
  readonly ramUsed: Float64Array;
  readonly bwUsed: Float64Array;
  /** Host a VM runs on (the source while it migrates); -1 = not placed. */
  readonly vmHost: Int32Array;
  /** Destination of a migration in flight, or -1. */
  readonly vmTarget: Int32Array;
  /** Current demand, MIPS. */
  readonly demand: Float64Array;
  /** CPU allocated to the VM by the host it runs on, and by the destination while migrating. */
  readonly allocSource: Float64Array;
  readonly allocTarget: Float64Array;
  /** Frequency ratio per host (1 = full clock); capacity scales with it. */
  readonly freqRatio: Float64Array;
  /** Per-host power cap a policy set, W (Infinity = none); budget violation is counted against it. */
  readonly capWatts: Float64Array;
  readonly measure: HostMeasure;

  constructor(readonly setup: SimSetup, readonly workload: Workload) {
    this.hostCount = setup.hosts.length;
    this.vmCount = setup.vms.length;
    this.totalMips = Float64Array.from(setup.hosts, hostTotalMips);
    this.peMips = Float64Array.from(setup.hosts, (h) => h.peMips);
    this.hostVms = setup.hosts.map(() => []);
    this.ramUsed = new Float64Array(this.hostCount);
    this.bwUsed = new Float64Array(this.hostCount);
    this.vmHost = new Int32Array(this.vmCount).fill(-1);
    this.vmTarget = new Int32Array(this.vmCount).fill(-1);
    this.demand = new Float64Array(this.vmCount);
    this.allocSource = new Float64Array(this.vmCount);
    this.allocTarget = new Float64Array(this.vmCount);
    this.freqRatio = new Float64Array(this.hostCount).fill(1);
    this.capWatts = new Float64Array(this.hostCount).fill(Infinity);
    this.measure = { utilMips: new Float64Array(this.hostCount), requested: new Float64Array(this.hostCount) };
  }

  /** Sets every VM's demand at interval k plus `frac` of the way to k + 1 (CloudSim interpolates). */
  setDemand(k: number, frac: number): void {
    const u = this.workload.utilisation;
    const last = this.workload.intervals - 1;
    for (let v = 0; v < this.vmCount; v++) {
      const s = u[v] as Float64Array;
      const a = s[Math.min(k, last)] as number;
      const b = s[Math.min(k + 1, last)] as number;
      this.demand[v] = (a + (b - a) * frac) * (this.setup.vms[v]?.mips ?? 0);
    }
  }

  place(vm: number, host: number): void {
    const spec = this.setup.vms[vm];
    if (!spec) return;
    this.vmHost[vm] = host;
    this.hostVms[host]?.push(vm);
    this.ramUsed[host] = (this.ramUsed[host] ?? 0) + (spec.ramMb);
    this.bwUsed[host] = (this.bwUsed[host] ?? 0) + (spec.bwKbps);
  }

  private detach(vm: number, host: number): void {
    const spec = this.setup.vms[vm];
    const list = this.hostVms[host];
    if (!spec || !list) return;
    const i = list.indexOf(vm);
    if (i >= 0) list.splice(i, 1);
    this.ramUsed[host] = (this.ramUsed[host] ?? 0) - (spec.ramMb);
    this.bwUsed[host] = (this.bwUsed[host] ?? 0) - (spec.bwKbps);
  }

  /** Starts a live migration: the destination reserves RAM, bandwidth and 10 % of the demand. */
  startMigration(vm: number, target: number): void {
    const prev = this.vmTarget[vm] as number;
    if (prev >= 0) this.detach(vm, prev);
    const source = this.vmHost[vm] as number;
    this.vmTarget[vm] = target;
    this.place(vm, target);
    this.vmHost[vm] = source; // the source stays the VM's host until the migration ends
  }

  finishMigration(vm: number): void {
    const target = this.vmTarget[vm] as number;
    const source = this.vmHost[vm] as number;
    if (target < 0) return;
    this.detach(vm, source);
    this.vmTarget[vm] = -1;
    this.vmHost[vm] = target;
  }

  /**
   * CloudSim treats a VM whose demand is exactly 0 at an update as finished and removes it for
   * good (HostDynamicWorkload.getCompletedVms); with `setup.removeIdleVms` we do the same.
   * Returns how many were removed.
   */
  removeFinished(): number {
    if (!this.setup.removeIdleVms) return 0;
    let n = 0;
    for (let v = 0; v < this.vmCount; v++) {
      const h = this.vmHost[v] as number;
      if (h < 0 || (this.vmTarget[v] as number) >= 0 || (this.demand[v] as number) !== 0) continue;
      this.detach(v, h);
      this.vmHost[v] = -1;
      n++;
    }
    return n;
  }

  /** Computes allocations and the per-host measure for the current demand. */
  measureAll(): void {
    for (let h = 0; h < this.hostCount; h++) this.measureHost(h);
  }

  measureHost(h: number): void {
    const vms = this.hostVms[h] as number[];
    const total = (this.totalMips[h] as number) * (this.freqRatio[h] as number);
    const pe = (this.peMips[h] as number) * (this.freqRatio[h] as number);
    const loss = this.setup.migrationCpuLoss;
    let reserved = 0;
    let requested = 0;
    for (const v of vms) {
      const d = this.demand[v] as number;
      const capped = d < pe ? d : pe;
      reserved += this.vmTarget[v] === h ? capped * loss : capped;
      requested += d;
    }
    const scale = reserved > total ? total / reserved : 1;
    let util = 0;
    for (const v of vms) {
      const d = this.demand[v] as number;
      const capped = d < pe ? d : pe;
      const incoming = this.vmTarget[v] === h;
      const outgoing = !incoming && (this.vmTarget[v] as number) >= 0;
      const factor = incoming ? loss : outgoing ? 1 - loss : 1;
      const a = scale < 1 ? Math.floor(capped * factor * scale) : capped * factor;
      if (incoming) this.allocTarget[v] = a;
      else this.allocSource[v] = a;
      util += outgoing ? a / (1 - loss) : a; // CloudSim counts a VM leaving at full size
    }
    this.measure.utilMips[h] = util;
    this.measure.requested[h] = requested;
  }

  /** Host utilisation 0..1 at its current frequency, from the last measure (CloudSim's getUtilizationOfCpu). */
  utilisation(h: number): number {
    const u = (this.measure.utilMips[h] as number) / ((this.totalMips[h] as number) * (this.freqRatio[h] as number));
    return u > 1 ? 1 : u;
  }
}
