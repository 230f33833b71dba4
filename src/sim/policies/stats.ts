// Small statistics for the overload detectors (pure). The detectors call these millions of
// times per simulated day on at most 30 values, so they sort into reusable buffers.

let bufA = new Float64Array(32);
let bufB = new Float64Array(32);

function sortedCopy(x: ArrayLike<number>, n: number, into: Float64Array): Float64Array {
  for (let i = 0; i < n; i++) {
    const v = x[i] as number;
    let j = i - 1;
    while (j >= 0 && (into[j] as number) > v) { into[j + 1] = into[j] as number; j--; }
    into[j + 1] = v;
  }
  return into;
}

function ensure(n: number): void {
  if (bufA.length < n) { bufA = new Float64Array(n); bufB = new Float64Array(n); }
}

function medianOfSorted(s: Float64Array, n: number): number {
  if (n === 0) return 0;
  const m = n >> 1;
  return n % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Median of the first n values of x (mean of the two middle values for even n). */
export function median(x: ArrayLike<number>, n = x.length): number {
  ensure(n);
  return medianOfSorted(sortedCopy(x, n, bufA), n);
}

/** Median absolute deviation of the first n values of x. */
export function mad(x: ArrayLike<number>, n = x.length): number {
  const m = median(x, n);
  for (let i = 0; i < n; i++) bufB[i] = Math.abs((x[i] as number) - m);
  return medianOfSorted(sortedCopy(bufB.slice(0, n), n, bufA), n);
}

/** Interquartile range with the quartiles at sorted positions round(0.25 (n+1)) and round(0.75 (n+1)). */
export function iqr(x: ArrayLike<number>, n = x.length): number {
  if (n === 0) return 0;
  ensure(n);
  const s = sortedCopy(x, n, bufA);
  const q1 = Math.min(n - 1, Math.max(0, Math.round(0.25 * (n + 1)) - 1));
  const q3 = Math.min(n - 1, Math.max(0, Math.round(0.75 * (n + 1)) - 1));
  return (s[q3] as number) - (s[q1] as number);
}

/** Ordinary least squares of y over x = 1..n: [intercept, slope]. */
export function olsLine(y: ArrayLike<number>): [number, number] {
  const n = y.length;
  let sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (let i = 0; i < n; i++) {
    const x = i + 1;
    const v = y[i] as number;
    sx += x; sy += v; sxx += x * x; sxy += x * v;
  }
  const den = n * sxx - sx * sx;
  const b = den === 0 ? 0 : (n * sxy - sx * sy) / den;
  return [(sy - b * sx) / n, b];
}
