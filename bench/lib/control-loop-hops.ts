// Hop breakdown for bench/control-loop.ts --trace: collects the `vmanage-hop` lines the daemons
// write when VMANAGE_HOP_TRACE=1 (src/adapters/power/hop-trace.ts) and the benchmark's own marks,
// all in one clock (ms on CLOCK_MONOTONIC, src/adapters/power/hop-trace.ts monotonicMs), and splits each
// latency sample into the hops of the SLA-to-cap path. Samples run one at a time; sample i's
// marks lie in [its report sent, the next sample's relax report) and are taken as a chain: each
// hop of HOPS is its first mark at or after the previous hop found (a periodic cycle's marks in
// the window cannot pair with a later hop of the sample's own path).
import type { Readable } from 'node:stream';

/** The path in order; consecutive pairs are the segments reported. */
export const HOPS = [
  'bench.send', // the guest agent (in the benchmark) writes the violated report
  'mvm.report:violated', // vmanage-mvm: the report reached the control loop
  'mvm.decision:set-frequency-cap', // the broker's cycle handed the decision to the actuator
  'client.cap-call', // PowerdClient.setMaxFrequency called
  'mvm.send:SetFrequencyCap', // dbus-next hands the call to its connection (marshalling starts)
  'mvm.out:SetFrequencyCap', // marshalled and written to the bus socket
  'powerd.in:SetFrequencyCap', // vmanage-powerd: read and unmarshalled (after dbus-daemon)
  'powerd.enter', // the method handler runs
  'powerd.authorised', // caller checked
  'powerd.sysfs-done', // every policy's scaling_max_freq written and read back
  'powerd.return', // the handler's promise resolves
  'powerd.out:return', // the method return written to the bus socket
  'mvm.in:return', // vmanage-mvm read the reply
  'client.cap-reply', // the actuator's call returned
] as const;

/** Side branches: [from a hop of HOPS, to the first mark of this name after it]. */
const BRANCHES: [string, string][] = [
  ['powerd.out:return', 'powerd.signalled'], // CapChanged (and PropertiesChanged) sent after the reply
  ['powerd.signalled', 'bench.observe'], // the signal reaching the benchmark
  ['powerd.sysfs-done', 'bench.inotify'], // inotify telling the benchmark about the write
];

export interface Mark { proc: string; hop: string; at: number; extra: number[] }

export class HopCollector {
  readonly marks: Mark[] = [];
  private partial = new Map<Readable, string>();

  /** Reads `vmanage-hop` lines from a child's stream (other lines are ignored). */
  attach(stream: Readable | null | undefined): void {
    if (!stream) return;
    stream.on('data', (b: Buffer) => {
      const text = (this.partial.get(stream) ?? '') + b.toString();
      const lines = text.split('\n');
      this.partial.set(stream, lines.pop() ?? '');
      for (const line of lines) {
        const m = /^vmanage-hop (\S+) (\S+) ([0-9.]+)((?: [0-9.]+)*)$/.exec(line);
        if (m) this.marks.push({ proc: m[1] as string, hop: m[2] as string, at: Number(m[3]), extra: (m[4] ?? '').trim().split(' ').filter(Boolean).map(Number) });
      }
    });
  }

  mark(hop: string, at: number): void {
    this.marks.push({ proc: 'bench', hop, at, extra: [] });
  }
}

function pct(sorted: readonly number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number : Number.NaN;
}

/** How much earlier than the previous hop's mark a hop's mark may be (ms; see perSample). */
const CROSS_PROCESS_SLACK_MS = 1;

const r2 = (x: number): number => Math.round(x * 100) / 100;

export interface SampleWindow { send: number; end: number; observed: number; landed?: number }

/**
 * The issue's measure, per sample: from the violated report reaching the MVM's control loop
 * (`mvm.report:violated`, after the M-channel read and parsed it) to powerd having written and
 * read back every policy's scaling_max_freq (the first `powerd.sysfs-done` after it), ms,
 * sorted. Both marks are taken in the daemons themselves, in the clock the processes share, so
 * neither the guest's write nor the benchmark's own wake-up to observe the change is counted.
 * Taken directly, not along the hop chain: a hop marked late by a preempted process in between
 * must not lose the sample.
 */
export function reportArrivedToCapWritten(c: HopCollector, windows: readonly SampleWindow[]): number[] {
  const marks = [...c.marks].sort((a, b) => a.at - b.at);
  const out: number[] = [];
  for (const w of windows) {
    const from = marks.find((m) => m.hop === 'mvm.report:violated' && m.at >= w.send && m.at < w.end);
    const to = from && marks.find((m) => m.hop === 'powerd.sysfs-done' && m.at >= from.at && m.at < w.end);
    if (from && to) out.push(to.at - from.at);
  }
  return out.sort((a, b) => a - b);
}

/**
 * Per segment (a -> b of consecutive HOPS, plus the observations): p50 / p99 over all samples
 * and the mean over the slowest 1 % (by `observed - send`), ms. Also each process's GC pauses
 * and worst event-loop delay inside those slowest samples.
 */
export function breakdown(c: HopCollector, windows: readonly SampleWindow[]): object {
  const marks = [...c.marks].sort((a, b) => a.at - b.at);
  const per = perSample(marks, windows);
  const segs: [string, string][] = HOPS.slice(1).map((h, i) => [HOPS[i] as string, h]);
  segs.push(...BRANCHES);
  const slow = [...per].sort((a, b) => (b.w.observed - b.w.send) - (a.w.observed - a.w.send)).slice(0, Math.max(1, Math.ceil(per.length / 100)));
  const segments: Record<string, object> = {};
  for (const [a, b] of segs) {
    const d = (s: (typeof per)[number]): number | undefined => {
      const x = s.first.get(a);
      const y = s.first.get(b);
      return x !== undefined && y !== undefined ? y - x : undefined;
    };
    const all = per.map(d).filter((x): x is number => x !== undefined).sort((x, y) => x - y);
    const tail = slow.map(d).filter((x): x is number => x !== undefined);
    segments[`${a} -> ${b}`] = { n: all.length, p50Ms: r2(pct(all, 50)), p99Ms: r2(pct(all, 99)), slowest1pctMeanMs: r2(tail.reduce((s, x) => s + x, 0) / (tail.length || 1)) };
  }
  const arrivedToWritten = reportArrivedToCapWritten(c, windows);
  const landed = per.map((s) => s.first.get('powerd.sysfs-done')).map((x, i) => (x === undefined ? undefined : x - (windows[i] as SampleWindow).send)).filter((x): x is number => x !== undefined).sort((a, b) => a - b);
  const gcs = marks.filter((m) => m.hop.startsWith('gc:'));
  const inSlow = (at: number): boolean => slow.some((s) => at >= s.w.send - 5 && at <= s.w.observed);
  const gc: Record<string, object> = {};
  for (const proc of new Set(gcs.map((m) => m.proc))) {
    const mine = gcs.filter((m) => m.proc === proc);
    const pauses = mine.map((m) => m.extra[0] ?? 0).sort((a, b) => a - b);
    gc[proc] = { count: mine.length, p99PauseMs: r2(pct(pauses, 99)), maxPauseMs: r2(pauses[pauses.length - 1] ?? 0), duringSlowestSamples: mine.filter((m) => inSlow(m.at)).length };
  }
  const loop: Record<string, object> = {};
  for (const m of marks.filter((x) => x.hop === 'loop-delay')) {
    const prev = loop[m.proc] as { p99Ms: number; maxMs: number } | undefined;
    loop[m.proc] = { p99Ms: r2(Math.max(prev?.p99Ms ?? 0, m.extra[1] ?? 0)), maxMs: r2(Math.max(prev?.maxMs ?? 0, m.extra[2] ?? 0)) };
  }
  // The three slowest samples hop by hop (ms after the report was sent), GC and loop-delay marks
  // of every process included: the evidence for where a tail sample's time went.
  const slowest = slow.slice(0, 3).map((s) => ({
    totalMs: r2(s.w.observed - s.w.send),
    marks: marks.filter((m) => m.at >= s.w.send - 2 && m.at <= s.w.observed + 1 && (HOPS.includes(m.hop as (typeof HOPS)[number]) || m.hop.startsWith('gc:') || m.hop.startsWith('powerd.out') || m.hop.startsWith('mvm.') || m.hop.startsWith('bench.'))).slice(0, 60)
      .map((m) => `${m.proc.replace(/\.[cm]?js:\d+$/, '')} ${m.hop} +${r2(m.at - s.w.send)}${m.extra.length ? ` (${m.extra.map(r2).join(' ')})` : ''}`),
  }));
  return {
    samples: per.length,
    /** Samples whose violation arrived while the MVM still waited for its previous cap call's reply. */
    queuedBehindPreviousCall: per.filter((s) => s.queued).length,
    slowest,
    reportToSysfsWrittenP50Ms: r2(pct(landed, 50)), reportToSysfsWrittenP99Ms: r2(pct(landed, 99)),
    reportArrivedToCapWritten: { n: arrivedToWritten.length, p50Ms: r2(pct(arrivedToWritten, 50)), p99Ms: r2(pct(arrivedToWritten, 99)) },
    segments, gc, worstLoopDelayPer250ms: loop,
  };
}

interface PerSample { w: SampleWindow; first: Map<string, number>; queued: boolean }

/** Each sample's marks taken as a chain along HOPS, plus the side branches (see the header). */
function perSample(marks: readonly Mark[], windows: readonly SampleWindow[]): PerSample[] {
  return windows.map((w) => {
    const inWindow = marks.filter((m) => m.at >= w.send && m.at < w.end);
    const first = new Map<string, number>([['bench.send', w.send]]);
    const branch = new Map<string, number>();
    let from = w.send;
    for (const hop of HOPS.slice(1)) {
      // A `.out:` mark is taken when the write call returns: on the other core the peer may
      // already have read the message and marked its `.in:` a little earlier (CROSS_PROCESS_SLACK_MS).
      const m = inWindow.find((x) => x.hop === hop && x.at >= from - CROSS_PROCESS_SLACK_MS);
      if (!m) continue;
      first.set(hop, m.at);
      from = m.at;
    }
    const observed = [...inWindow, { proc: 'bench', hop: 'bench.observe', at: w.observed, extra: [] }, ...(w.landed !== undefined ? [{ proc: 'bench', hop: 'bench.inotify', at: w.landed, extra: [] }] : [])];
    for (const [a, b] of BRANCHES) {
      const x = first.get(a) ?? (a === 'powerd.signalled' ? branch.get(a) : undefined);
      const m = x === undefined ? undefined : observed.find((y) => y.hop === b && y.at >= x);
      if (m) branch.set(b, m.at);
    }
    // The MVM was still waiting for its previous cap call's reply when this violation came in.
    const decided = first.get('mvm.decision:set-frequency-cap') ?? w.end;
    const queued = inWindow.some((m) => m.hop === 'mvm.in:return' && m.at < decided);
    return { w, first: new Map([...first, ...branch]), queued };
  });
}
