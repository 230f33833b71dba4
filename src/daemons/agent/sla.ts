// SLA objective evaluation: one evaluator per configured objective, each keeping the little state
// it needs (the previous scrape for windows and rates, the last pushed value). Evaluators never
// throw: a failed scrape or probe gives status 'unknown' with the error text.
import { spawn } from 'node:child_process';
import { get } from 'node:http';
import type { Objective, Op, ProbeObjective, PushObjective, QuantileObjective, RateObjective } from './config.js';
import { bucketQuantile, counterValue, histogramBuckets, parseExposition } from './prom.js';

export type SlaStatus = 'ok' | 'violated' | 'unknown';

export interface ObjectiveResult {
  readonly name: string;
  readonly status: SlaStatus;
  /** The measured value in the objective's unit; null when unknown. */
  readonly value: number | null;
  readonly op: Op;
  readonly target: number;
  readonly unit?: string;
  readonly error?: string;
}

export interface Evaluator {
  readonly objective: Objective;
  evaluate(): Promise<ObjectiveResult>;
}

export function compare(value: number, op: Op, target: number): boolean {
  return op === '<=' ? value <= target : value >= target;
}

function result(o: Objective, value: number | null | undefined, error?: string): ObjectiveResult {
  const v = value === undefined || value === null || !Number.isFinite(value) ? null : value;
  const status: SlaStatus = v === null ? 'unknown' : compare(v, o.op, o.target) ? 'ok' : 'violated';
  return { name: o.name, status, value: v, op: o.op, target: o.target, ...(o.unit ? { unit: o.unit } : {}), ...(error ? { error } : {}) };
}

const MAX_SCRAPE_BYTES = 4 << 20;

/** GETs an http:// URL with a timeout and a size bound; rejects with a short message. */
export function scrape(url: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: timeoutMs }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`${url}: HTTP ${res.statusCode}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_SCRAPE_BYTES) {
          req.destroy(new Error(`${url}: answer larger than ${MAX_SCRAPE_BYTES} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer in ${timeoutMs} ms`)));
    req.on('error', (e) => reject(e));
  });
}

class QuantileEvaluator implements Evaluator {
  private prev: { le: number; count: number }[] | undefined;
  constructor(readonly objective: QuantileObjective, private readonly fetchText: (url: string) => Promise<string>) {}
  async evaluate(): Promise<ObjectiveResult> {
    const o = this.objective;
    try {
      const { samples } = parseExposition(await this.fetchText(o.url));
      const cur = histogramBuckets(samples, o.metric, o.labels);
      if (cur.length === 0) return result(o, null, `no histogram ${o.metric}_bucket at ${o.url}`);
      // Window since the previous scrape; a counter reset (any bucket went down) restarts it.
      const prev = this.prev;
      const reset = !prev || cur.some((b) => (prev.find((p) => p.le === b.le)?.count ?? 0) > b.count);
      const window = reset ? cur : cur.map((b) => ({ le: b.le, count: b.count - (prev.find((p) => p.le === b.le)?.count ?? 0) }));
      this.prev = cur;
      return result(o, bucketQuantile(o.quantile, window) ?? null, undefined);
    } catch (err) {
      return result(o, null, (err as Error).message);
    }
  }
}

class RateEvaluator implements Evaluator {
  private prev: { at: number; value: number } | undefined;
  constructor(readonly objective: RateObjective, private readonly fetchText: (url: string) => Promise<string>, private readonly now: () => number) {}
  async evaluate(): Promise<ObjectiveResult> {
    const o = this.objective;
    try {
      const { samples } = parseExposition(await this.fetchText(o.url));
      const v = counterValue(samples, o.metric, o.labels);
      if (v === undefined) return result(o, null, `no counter ${o.metric} at ${o.url}`);
      const at = this.now();
      const prev = this.prev;
      this.prev = { at, value: v };
      if (!prev || at <= prev.at || v < prev.value) return result(o, null, 'first sample of the window');
      return result(o, (v - prev.value) / ((at - prev.at) / 1000));
    } catch (err) {
      return result(o, null, (err as Error).message);
    }
  }
}

const MAX_PROBE_OUTPUT = 64 * 1024;

/** Runs argv with a timeout; resolves with the exit code (or null when killed) and bounded stdout. */
export function runProbe(argv: readonly string[], timeoutMs: number): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const [cmd, ...args] = argv;
    let out = '';
    const child = spawn(cmd ?? 'false', args, { stdio: ['ignore', 'pipe', 'ignore'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    child.stdout.on('data', (c: Buffer) => {
      if (out.length < MAX_PROBE_OUTPUT) out += c.toString('utf8').slice(0, MAX_PROBE_OUTPUT - out.length);
    });
    child.on('error', () => resolve({ code: null, stdout: out }));
    child.on('close', (code) => resolve({ code, stdout: out }));
  });
}

class ProbeEvaluator implements Evaluator {
  constructor(readonly objective: ProbeObjective) {}
  async evaluate(): Promise<ObjectiveResult> {
    const o = this.objective;
    const { code, stdout } = await runProbe(o.command, o.timeoutMs);
    if (code === null) return result(o, null, `probe ${o.command[0]} did not finish in ${o.timeoutMs} ms or could not start`);
    if (o.kind === 'exit') return result(o, code);
    const v = Number(stdout.trim().split(/\s+/)[0]);
    return code !== 0 ? result(o, null, `probe exited with ${code}`) : result(o, Number.isFinite(v) ? v : null, Number.isFinite(v) ? undefined : 'probe printed no number');
  }
}

/** Latest pushed value per objective name (only configured names are kept: bounded). */
export class PushStore {
  private readonly values = new Map<string, { value: number; at: number }>();
  rejected = 0;
  constructor(private readonly names: ReadonlySet<string>, private readonly now: () => number) {}
  put(name: string, value: number): boolean {
    if (!this.names.has(name) || !Number.isFinite(value)) {
      this.rejected++;
      return false;
    }
    this.values.set(name, { value, at: this.now() });
    return true;
  }
  get(name: string, maxAgeMs: number): number | undefined {
    const v = this.values.get(name);
    return v && this.now() - v.at <= maxAgeMs ? v.value : undefined;
  }
}

class PushEvaluator implements Evaluator {
  constructor(readonly objective: PushObjective, private readonly store: PushStore) {}
  evaluate(): Promise<ObjectiveResult> {
    const v = this.store.get(this.objective.name, this.objective.staleMs);
    return Promise.resolve(result(this.objective, v ?? null, v === undefined ? 'no recent pushed value' : undefined));
  }
}

export interface EvaluatorDeps {
  readonly now: () => number;
  readonly push: PushStore;
  readonly fetchText?: (url: string) => Promise<string>;
}

export function makeEvaluator(o: Objective, deps: EvaluatorDeps): Evaluator {
  const fetchText = deps.fetchText ?? ((url: string) => scrape(url));
  switch (o.source) {
    case 'prometheus':
      return o.kind === 'quantile' ? new QuantileEvaluator(o, fetchText) : new RateEvaluator(o, fetchText, deps.now);
    case 'probe':
      return new ProbeEvaluator(o);
    case 'push':
      return new PushEvaluator(o, deps.push);
  }
}

/** Overall status: violated if any objective is violated, ok if all are ok, else unknown. */
export function overall(results: readonly ObjectiveResult[]): SlaStatus {
  if (results.some((r) => r.status === 'violated')) return 'violated';
  return results.every((r) => r.status === 'ok') ? 'ok' : 'unknown';
}
