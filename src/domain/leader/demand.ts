// The recent-window demand the planner judges destinations on: each VM's CPU use over the last
// `capacity` samples (e.g. 30 samples of 60 s), its high percentile as `cpuPeak`. Bounded memory
// (a ring per VM); samples are untrusted (from host updates): non-finite values are refused and
// counted, the rest clamped to [0, 1]. Pure.

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
   */
  peak(q = 0.95, minSamples = 5): number | undefined {
    if (this.count === 0) return undefined;
    const xs = this.ring.slice(0, this.count).sort(); // typed array: numeric order
    if (this.count < minSamples) return xs[xs.length - 1];
    const rank = Math.min(xs.length, Math.max(1, Math.ceil(q * xs.length)));
    return xs[rank - 1];
  }
}
