// The recent-window demand the planner judges destinations on: each VM's CPU use over the last
// `capacity` samples (e.g. 30 samples of 60 s), its high percentile as `cpuPeak`. Bounded memory
// (a ring per VM); samples are untrusted (from host updates): non-finite values are refused and
// counted, the rest clamped to [0, 1]. Pure.

/** Largest k UtilWindow.peak selects by insertion (k = samples above the quantile's rank, + 1). */
const MAX_SCAN_K = 8;
/** UtilWindow.peak's scratch: the k largest samples so far, descending (reused; no await inside). */
const TOP = new Float64Array(MAX_SCAN_K);

export class UtilWindow {
  private readonly ring: Float64Array;
  private next = 0;
  private count = 0;
  /** Samples refused as not a finite number. */
  rejected = 0;

  constructor(readonly capacity = 30) {
    this.ring = new Float64Array(Math.max(1, Math.floor(capacity)));
  }

  push(util: number): boolean {
    if (typeof util !== 'number' || !Number.isFinite(util)) {
      this.rejected++;
      return false;
    }
    this.ring[this.next] = Math.min(1, Math.max(0, util));
    this.next = (this.next + 1) % this.ring.length;
    this.count = Math.min(this.ring.length, this.count + 1);
    return true;
  }

  get size(): number {
    return this.count;
  }

  /** The last sample, or undefined when there is none. */
  last(): number | undefined {
    return this.count === 0 ? undefined : this.ring[(this.next - 1 + this.ring.length) % this.ring.length];
  }

  /**
   * The q-quantile (nearest rank, 0 < q <= 1) of the window; with fewer than `minSamples`
   * samples, the window's maximum (a conservative peak for a VM the leader barely knows).
   * The quantile is the k-th largest sample, k = count - rank + 1 (2 for 30 samples at 0.95):
   * one pass keeping the k largest, no sort and no allocation (the leader reads every VM's peak
   * every second: at 100,000 VMs a sorted copy each time was a tenth of its CPU); a sort only
   * when k is large (a low quantile).
   */
  peak(q = 0.95, minSamples = 5): number | undefined {
    const n = this.count;
    if (n === 0) return undefined;
    const rank = n < minSamples ? n : Math.min(n, Math.max(1, Math.ceil(q * n)));
    const k = n - rank + 1;
    if (k > MAX_SCAN_K) return this.ring.slice(0, n).sort()[rank - 1]; // typed array: numeric order
    let held = 0;
    for (let i = 0; i < n; i++) {
      const x = this.ring[i] as number;
      if (held === k && !(x > (TOP[k - 1] as number))) continue;
      let j = held === k ? k - 2 : held++ - 1;
      while (j >= 0 && (TOP[j] as number) < x) {
        TOP[j + 1] = TOP[j] as number;
        j--;
      }
      TOP[j + 1] = x;
    }
    return TOP[k - 1];
  }
}
