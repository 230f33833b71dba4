// A bounded window of recent latency samples (ms) with exact quantiles over it: what the broker
// keeps to say where a control decision's time goes (docs/mvm.md, bench/control-loop.ts).
// Memory is fixed (capacity numbers); quantile() sorts a copy, so call it at scrape time only.
export class LatencyWindow {
  private readonly samples: number[] = [];
  private next = 0;
  private total = 0;

  constructor(private readonly capacity = 1024) {}

  /** Adds one sample, ms (non-finite or negative values are ignored). */
  record(ms: number): void {
    if (!(Number.isFinite(ms) && ms >= 0)) return;
    this.total++;
    if (this.samples.length < this.capacity) this.samples.push(ms);
    else this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Samples recorded so far (also those that left the window). */
  get count(): number {
    return this.total;
  }

  /** The q-quantile (0..1) of the samples in the window, ms; undefined when empty. */
  quantile(q: number): number | undefined {
    if (this.samples.length === 0) return undefined;
    const sorted = [...this.samples].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  }
}
