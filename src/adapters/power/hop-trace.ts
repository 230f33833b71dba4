// Hop timestamps for the SLA-to-cap path (bench/control-loop.ts --trace), off unless the
// environment sets VMANAGE_HOP_TRACE=1. Each mark is a time in ms with sub-ms precision on
// CLOCK_MONOTONIC (process.hrtime), the one clock every process on a machine reads alike, so
// marks from the guest agent, vmanage-mvm, vmanage-powerd and the benchmark can be lined up.
// (Not performance.timeOrigin + now(): each process takes its own origin from two clock reads at
// start-up, and a start-up preempted between them shifts every mark of that process.) Marks are buffered (at most MAX_BUFFERED, the rest counted as
// dropped) and written to stderr in batches by an unref'd timer, away from the measured path,
// as lines `vmanage-hop <process> <hop> <monotonicMs>`. While tracing, the process also reports its
// garbage collections (`gc:<kind>` marks at the pause's start with its duration) and, with each
// batch, its event-loop delay since the last batch (monitorEventLoopDelay, ms).
import { basename } from 'node:path';
import { monitorEventLoopDelay, performance, PerformanceObserver, type IntervalHistogram } from 'node:perf_hooks';

const MAX_BUFFERED = 20_000;
const FLUSH_MS = 250;

/** Milliseconds on CLOCK_MONOTONIC (since boot), sub-ms precision: the clock shared across processes. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export interface HopTracer {
  readonly enabled: boolean;
  /** Records that `hop` happened now. Costs one array push when enabled, nothing otherwise. */
  mark(hop: string): void;
}

class BufferedTracer implements HopTracer {
  readonly enabled = true;
  private lines: string[] = [];
  private dropped = 0;
  private readonly delay: IntervalHistogram;

  constructor(private readonly proc: string) {
    this.delay = monitorEventLoopDelay({ resolution: 1 });
    this.delay.enable();
    const gc = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) this.push(`gc:${String((e as unknown as { detail?: { kind?: number } }).detail?.kind ?? '?')}`, monotonicMs() - (performance.now() - e.startTime), e.duration);
    });
    gc.observe({ entryTypes: ['gc'] });
    setInterval(() => this.flush(), FLUSH_MS).unref();
    process.once('exit', () => this.flush());
  }

  mark(hop: string): void {
    this.push(hop, monotonicMs());
  }

  private push(hop: string, at: number, durationMs?: number): void {
    if (this.lines.length >= MAX_BUFFERED) {
      this.dropped++;
      return;
    }
    this.lines.push(`vmanage-hop ${this.proc} ${hop} ${at.toFixed(3)}${durationMs === undefined ? '' : ` ${durationMs.toFixed(3)}`}`);
  }

  private flush(): void {
    const d = this.delay;
    const loop = `vmanage-hop ${this.proc} loop-delay ${monotonicMs().toFixed(3)} ${(d.percentile(50) / 1e6).toFixed(3)} ${(d.percentile(99) / 1e6).toFixed(3)} ${(d.max / 1e6).toFixed(3)} ${this.dropped}`;
    d.reset();
    const out = this.lines;
    this.lines = [];
    process.stderr.write(`${out.join('\n')}${out.length ? '\n' : ''}${loop}\n`);
  }
}

const off: HopTracer = { enabled: false, mark: () => undefined };
let shared: HopTracer | undefined;

/** The process's tracer, named `<script>:<pid>` (one per process). */
export function hopTracer(): HopTracer {
  shared ??= process.env['VMANAGE_HOP_TRACE'] === '1' ? new BufferedTracer(`${basename(process.argv[1] ?? 'node')}:${process.pid}`) : off;
  return shared;
}

interface TraceableBus {
  on(event: 'message', fn: (msg: { type: number; member?: string | null }) => void): unknown;
}

function msgName(msg: { type: number; member?: string | null }): string {
  return msg.member ?? (msg.type === 2 ? 'return' : msg.type === 3 ? 'error' : `type${msg.type}`);
}

/**
 * While tracing, marks every D-Bus message this bus connection receives (`<label>.in:<member>`,
 * after unmarshalling) and hands to its socket (`<label>.send:<member>` before marshalling,
 * `<label>.out:<member>` after marshalling and the write call). Reaches into dbus-next 0.10's
 * connection object (`_connection.message`): for the benchmark's hop breakdown only, never on
 * unless VMANAGE_HOP_TRACE=1.
 */
export function traceBus(bus: TraceableBus, label: string): void {
  const trace = hopTracer();
  if (!trace.enabled) return;
  bus.on('message', (msg) => trace.mark(`${label}.in:${msgName(msg)}`));
  const conn = (bus as unknown as { _connection?: { message?: (m: { type: number; member?: string | null }) => void } })._connection;
  const send = conn?.message;
  if (!conn || !send) return;
  // dbus-next replaces connection.message once the handshake is done: wrap whichever is current.
  let current = send;
  Object.defineProperty(conn, 'message', {
    configurable: true,
    get: () => (m: { type: number; member?: string | null }) => {
      trace.mark(`${label}.send:${msgName(m)}`);
      current.call(conn, m);
      trace.mark(`${label}.out:${msgName(m)}`);
    },
    set: (fn: typeof send) => { current = fn; },
  });
}
