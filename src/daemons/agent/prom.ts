// A bounded parser for the Prometheus text exposition format (version 0.0.4), just enough to
// evaluate SLA objectives: samples with labels and values; comments, timestamps and unknown
// lines are ignored. Input is the application's, so: at most maxSamples samples, lines longer
// than 4 KiB skipped, bad lines counted, never thrown.

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface ParseResult {
  readonly samples: Sample[];
  /** Lines that were not comments and did not parse. */
  readonly badLines: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

function parseValue(s: string): number | undefined {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  const v = Number(s);
  return s.length > 0 && !Number.isNaN(v) ? v : undefined;
}

/** Parses `{a="x",b="y"}` starting at i (the '{'); returns labels and the index after '}'. */
function parseLabels(line: string, i: number): { labels: Record<string, string>; end: number } | undefined {
  const labels: Record<string, string> = {};
  i++;
  for (;;) {
    while (line[i] === ' ' || line[i] === ',') i++;
    if (line[i] === '}') return { labels, end: i + 1 };
    const m = NAME.exec(line.slice(i));
    if (!m) return undefined;
    i += m[0].length;
    if (line[i] !== '=' || line[i + 1] !== '"') return undefined;
    i += 2;
    let v = '';
    while (i < line.length && line[i] !== '"') {
      if (line[i] === '\\') {
        const n = line[i + 1];
        v += n === 'n' ? '\n' : (n ?? '');
        i += 2;
      } else v += line[i++];
    }
    if (line[i] !== '"') return undefined;
    i++;
    if (Object.keys(labels).length >= 32) return undefined;
    labels[m[0]] = v;
  }
}

export function parseLine(line: string): Sample | undefined {
  const m = NAME.exec(line);
  if (!m) return undefined;
  let i = m[0].length;
  let labels: Record<string, string> = {};
  if (line[i] === '{') {
    const l = parseLabels(line, i);
    if (!l) return undefined;
    labels = l.labels;
    i = l.end;
  }
  const rest = line.slice(i).trim().split(/\s+/);
  const value = parseValue(rest[0] ?? '');
  if (value === undefined || rest.length > 2) return undefined;
  return { name: m[0], labels, value };
}

export function parseExposition(text: string, maxSamples = 50_000): ParseResult {
  const samples: Sample[] = [];
  let badLines = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.length > 4096) {
      badLines++;
      continue;
    }
    const s = parseLine(line);
    if (!s) badLines++;
    else if (samples.length < maxSamples) samples.push(s);
  }
  return { samples, badLines };
}

export function labelsMatch(have: Readonly<Record<string, string>>, want: Readonly<Record<string, string>> | undefined): boolean {
  if (!want) return true;
  return Object.entries(want).every(([k, v]) => have[k] === v);
}

/** Cumulative bucket counts of histogram `name` (summed over series matching `labels`), sorted by le. */
export function histogramBuckets(samples: readonly Sample[], name: string, labels?: Readonly<Record<string, string>>): { le: number; count: number }[] {
  const byLe = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || !labelsMatch(s.labels, labels)) continue;
    const le = parseValue(s.labels.le ?? '');
    if (le === undefined || Number.isNaN(le)) continue;
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  return [...byLe.entries()].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
}

/**
 * The q-quantile from cumulative buckets, interpolating linearly inside the bucket as
 * Prometheus' histogram_quantile does. undefined when there are no observations.
 */
export function bucketQuantile(q: number, buckets: readonly { le: number; count: number }[]): number | undefined {
  const last = buckets[buckets.length - 1];
  if (!last || last.le !== Infinity || last.count <= 0) return undefined;
  const rank = q * last.count;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (b.le === Infinity) return prevLe;
      if (b.count === prevCount) return b.le;
      return prevLe + (b.le - prevLe) * ((rank - prevCount) / (b.count - prevCount));
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

/** Sum of counter `name` over series matching labels; undefined when absent. */
export function counterValue(samples: readonly Sample[], name: string, labels?: Readonly<Record<string, string>>): number | undefined {
  let sum: number | undefined;
  for (const s of samples) {
    if ((s.name === name || s.name === `${name}_total`) && labelsMatch(s.labels, labels)) sum = (sum ?? 0) + s.value;
  }
  return sum;
}
