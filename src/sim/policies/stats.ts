// Small statistics for the overload detectors (pure).

/** Median (mean of the two middle values for even n). Does not modify x. */
export function median(x: ArrayLike<number>): number {
  const s = Float64Array.from(x).sort();
  const n = s.length;
  if (n === 0) return 0;
  const m = n >> 1;
  return n % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Median absolute deviation. */
export function mad(x: ArrayLike<number>): number {
  const m = median(x);
  return median(Float64Array.from(x, (v) => Math.abs(v - m)));
}

/** Interquartile range with the quartiles at sorted positions round(0.25 (n+1)) and round(0.75 (n+1)). */
export function iqr(x: ArrayLike<number>): number {
  const s = Float64Array.from(x).sort();
  const n = s.length;
  if (n === 0) return 0;
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
