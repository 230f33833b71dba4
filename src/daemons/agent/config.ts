// The guest agent's configuration: a JSON file validated by hand (the agent is one bundled file
// with no runtime dependencies, so no schema library). Every problem is reported at once as
// `path: what is wrong (expected ...)`. Units: durations in ms, objective values in the unit the
// objective states (e.g. seconds for a Prometheus latency histogram).

export type Op = '<=' | '>=';

interface ObjectiveBase {
  /** Name reported to the host, e.g. "p95-latency". */
  readonly name: string;
  readonly op: Op;
  readonly target: number;
  readonly unit?: string;
}

/** p-quantile of a Prometheus histogram, over the window since the previous scrape. */
export interface QuantileObjective extends ObjectiveBase {
  readonly source: 'prometheus';
  readonly kind: 'quantile';
  readonly url: string;
  /** Histogram base name (without _bucket). */
  readonly metric: string;
  readonly quantile: number;
  readonly labels?: Readonly<Record<string, string>>;
}

/** Per-second rate of a Prometheus counter between two scrapes. */
export interface RateObjective extends ObjectiveBase {
  readonly source: 'prometheus';
  readonly kind: 'rate';
  readonly url: string;
  readonly metric: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/** A probe command: `exit` = exit status (0 ok), `value` = the number it prints on stdout. */
export interface ProbeObjective extends ObjectiveBase {
  readonly source: 'probe';
  readonly kind: 'exit' | 'value';
  readonly command: readonly string[];
  readonly timeoutMs: number;
}

/** Values applications push to the agent's socket / HTTP endpoint under this name. */
export interface PushObjective extends ObjectiveBase {
  readonly source: 'push';
  /** A pushed value older than this is not used (status unknown), ms. */
  readonly staleMs: number;
}

export type Objective = QuantileObjective | RateObjective | ProbeObjective | PushObjective;

export interface AgentConfig {
  /** The virtio-serial port (KVM). */
  readonly device: string;
  readonly transport: 'virtio-serial' | 'xenstore';
  readonly heartbeatMs: number;
  /** SLA evaluation and report period, ms. */
  readonly reportMs: number;
  /** Unix socket for pushed measurements (one JSON object per line); absent = off. */
  readonly pushSocket?: string;
  /** HTTP endpoint for pushed measurements (POST /v1/measurements); absent = off. */
  readonly pushHttp?: { readonly host: string; readonly port: number };
  readonly objectives: readonly Objective[];
  /** Bounds memory: at most this many queued reports while the host is away. */
  readonly maxQueuedReports: number;
}

export const DEFAULT_DEVICE = '/dev/virtio-ports/org.vmanage.agent.0';

export const defaults: AgentConfig = {
  device: DEFAULT_DEVICE,
  transport: 'virtio-serial',
  heartbeatMs: 5000,
  reportMs: 10_000,
  objectives: [],
  maxQueuedReports: 256,
};

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid agent configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);

class Checker {
  readonly problems: string[] = [];
  bad(path: string, what: string): void {
    if (this.problems.length < 100) this.problems.push(`${path}: ${what}`);
  }
  str(o: Rec, k: string, path: string, required: boolean): string | undefined {
    const v = o[k];
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'string' || v.length === 0 || v.length > 4096) {
      this.bad(`${path}.${k}`, `expected a non-empty string, got ${show(v)}`);
      return undefined;
    }
    return v;
  }
  num(o: Rec, k: string, path: string, min: number, max: number, dflt?: number): number | undefined {
    const v = o[k];
    if (v === undefined && dflt !== undefined) return dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      this.bad(`${path}.${k}`, `expected a number in [${min}, ${max}], got ${show(v)}`);
      return undefined;
    }
    return v;
  }
  oneOf<T extends string>(o: Rec, k: string, path: string, allowed: readonly T[], dflt?: T): T | undefined {
    const v = o[k];
    if (v === undefined && dflt !== undefined) return dflt;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      this.bad(`${path}.${k}`, `expected one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${show(v)}`);
      return undefined;
    }
    return v as T;
  }
  unknownKeys(o: Rec, path: string, known: readonly string[]): void {
    for (const k of Object.keys(o)) if (!known.includes(k)) this.bad(`${path}.${k}`, 'unknown key');
  }
}

function show(v: unknown): string {
  const s = v === undefined ? 'nothing' : JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

const objectiveKeys = ['name', 'source', 'kind', 'op', 'target', 'unit', 'url', 'metric', 'quantile', 'labels', 'command', 'timeoutMs', 'staleMs'];

function labelsOf(c: Checker, o: Rec, path: string): Record<string, string> | undefined {
  if (o.labels === undefined) return undefined;
  if (!isRec(o.labels) || !Object.values(o.labels).every((v) => typeof v === 'string')) {
    c.bad(`${path}.labels`, 'expected an object of string values');
    return undefined;
  }
  return o.labels as Record<string, string>;
}

function objective(c: Checker, o: unknown, path: string): Objective | undefined {
  if (!isRec(o)) {
    c.bad(path, `expected an object, got ${show(o)}`);
    return undefined;
  }
  c.unknownKeys(o, path, objectiveKeys);
  const base = {
    name: c.str(o, 'name', path, true) ?? '',
    op: c.oneOf(o, 'op', path, ['<=', '>='] as const) ?? '<=',
    target: c.num(o, 'target', path, -1e15, 1e15) ?? 0,
    unit: c.str(o, 'unit', path, false),
  };
  const source = c.oneOf(o, 'source', path, ['prometheus', 'probe', 'push'] as const);
  if (source === 'prometheus') {
    const kind = c.oneOf(o, 'kind', path, ['quantile', 'rate'] as const);
    const url = c.str(o, 'url', path, true) ?? '';
    if (url && !/^http:\/\/[^/]+/.test(url)) c.bad(`${path}.url`, `expected an http:// URL, got ${show(url)}`);
    const metric = c.str(o, 'metric', path, true) ?? '';
    const labels = labelsOf(c, o, path);
    if (kind === 'quantile') {
      const quantile = c.num(o, 'quantile', path, 0, 1) ?? 0.95;
      return { ...base, source, kind, url, metric, quantile, labels };
    }
    return kind ? { ...base, source, kind, url, metric, labels } : undefined;
  }
  if (source === 'probe') {
    const kind = c.oneOf(o, 'kind', path, ['exit', 'value'] as const, 'exit') ?? 'exit';
    const cmd = o.command;
    const ok = Array.isArray(cmd) && cmd.length > 0 && cmd.every((x) => typeof x === 'string');
    if (!ok) c.bad(`${path}.command`, `expected a non-empty array of strings (argv), got ${show(cmd)}`);
    const timeoutMs = c.num(o, 'timeoutMs', path, 1, 600_000, 5000) ?? 5000;
    return { ...base, source, kind, command: ok ? (cmd as string[]) : [], timeoutMs };
  }
  if (source === 'push') {
    const staleMs = c.num(o, 'staleMs', path, 1, 86_400_000, 60_000) ?? 60_000;
    return { ...base, source, staleMs };
  }
  return undefined;
}

/** Validates a parsed JSON value; throws ConfigError listing every problem. */
export function parseConfig(raw: unknown): AgentConfig {
  const c = new Checker();
  if (!isRec(raw)) throw new ConfigError([`(root): expected a JSON object, got ${show(raw)}`]);
  c.unknownKeys(raw, '(root)', ['device', 'transport', 'heartbeatMs', 'reportMs', 'pushSocket', 'pushHttp', 'objectives', 'maxQueuedReports']);
  const device = c.str(raw, 'device', '(root)', false) ?? defaults.device;
  const transport = c.oneOf(raw, 'transport', '(root)', ['virtio-serial', 'xenstore'] as const, 'virtio-serial') ?? 'virtio-serial';
  const heartbeatMs = c.num(raw, 'heartbeatMs', '(root)', 50, 3_600_000, defaults.heartbeatMs) ?? defaults.heartbeatMs;
  const reportMs = c.num(raw, 'reportMs', '(root)', 50, 3_600_000, defaults.reportMs) ?? defaults.reportMs;
  const maxQueuedReports = c.num(raw, 'maxQueuedReports', '(root)', 1, 100_000, defaults.maxQueuedReports) ?? defaults.maxQueuedReports;
  const pushSocket = c.str(raw, 'pushSocket', '(root)', false);
  let pushHttp: AgentConfig['pushHttp'];
  if (raw.pushHttp !== undefined) {
    if (!isRec(raw.pushHttp)) c.bad('pushHttp', `expected {host, port}, got ${show(raw.pushHttp)}`);
    else {
      c.unknownKeys(raw.pushHttp, 'pushHttp', ['host', 'port']);
      const host = c.str(raw.pushHttp, 'host', 'pushHttp', false) ?? '127.0.0.1';
      const port = c.num(raw.pushHttp, 'port', 'pushHttp', 0, 65535);
      if (port !== undefined) pushHttp = { host, port };
    }
  }
  const objectives: Objective[] = [];
  if (raw.objectives !== undefined && !Array.isArray(raw.objectives)) c.bad('objectives', `expected an array, got ${show(raw.objectives)}`);
  else if (Array.isArray(raw.objectives)) {
    if (raw.objectives.length > 64) c.bad('objectives', `at most 64 objectives, got ${raw.objectives.length}`);
    const names = new Set<string>();
    raw.objectives.slice(0, 64).forEach((o, i) => {
      const obj = objective(c, o, `objectives[${i}]`);
      if (!obj) return;
      if (names.has(obj.name)) c.bad(`objectives[${i}].name`, `duplicate objective name ${show(obj.name)}`);
      names.add(obj.name);
      objectives.push(obj);
    });
  }
  if (c.problems.length > 0) throw new ConfigError(c.problems.map((p) => p.replace(/^\(root\)\./, '')));
  return { device, transport, heartbeatMs, reportMs, pushSocket, pushHttp, objectives, maxQueuedReports };
}
