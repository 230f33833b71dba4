// The guest agent's core: sends agent.hello once per session, heartbeats every heartbeatMs and an
// SLA report every reportMs over a GuestLink (the M-channel session, guest role). Host messages
// are untrusted: anything but a well-formed host.config is counted and ignored. Timers are the
// process's (this is a daemon entry), injected for tests.
import type { AgentConfig } from './config.js';
import type { Logger } from './log.js';
import { makeEvaluator, overall, type Evaluator, type ObjectiveResult, PushStore, type SlaStatus } from './sla.js';

export const AGENT_VERSION = '0.1.0';

/** What the agent needs from the channel: queue a message, hear the host. */
export interface GuestLink {
  send(kind: string, body: Record<string, unknown>): void;
  onMessage(handler: (kind: string, body: unknown) => void): void;
  close(): Promise<void>;
}

export interface SlaReportBody {
  [k: string]: unknown;
  /** Report number, 1, 2, 3... for the agent's lifetime (lets the host see gaps and order). */
  readonly n: number;
  /** Guest wall clock when evaluated, ms since epoch. */
  readonly at: number;
  readonly status: SlaStatus;
  readonly objectives: readonly ObjectiveResult[];
}

export interface AgentTimers {
  every(ms: number, fn: () => void): { cancel(): void };
  now(): number;
}

export const realTimers: AgentTimers = {
  every(ms, fn) {
    const h = setInterval(fn, ms);
    return { cancel: () => clearInterval(h) };
  },
  now: () => Date.now(),
};

export interface AgentStats {
  reportsSent: number;
  heartbeatsSent: number;
  hostMessages: number;
  hostMessagesRejected: number;
}

export class Agent {
  readonly push: PushStore;
  readonly stats: AgentStats = { reportsSent: 0, heartbeatsSent: 0, hostMessages: 0, hostMessagesRejected: 0 };
  private readonly evaluators: Evaluator[];
  private reportNo = 0;
  private evaluating = false;
  private hb: { cancel(): void } | undefined;
  private rep: { cancel(): void } | undefined;
  private heartbeatMs: number;
  private reportMs: number;
  private readonly started: number;

  constructor(private readonly cfg: AgentConfig, private readonly link: GuestLink, private readonly log: Logger, private readonly timers: AgentTimers = realTimers) {
    this.push = new PushStore(new Set(cfg.objectives.filter((o) => o.source === 'push').map((o) => o.name)), timers.now);
    this.evaluators = cfg.objectives.map((o) => makeEvaluator(o, { now: timers.now, push: this.push }));
    this.heartbeatMs = cfg.heartbeatMs;
    this.reportMs = cfg.reportMs;
    this.started = timers.now();
    link.onMessage((kind, body) => this.onHostMessage(kind, body));
  }

  start(): void {
    this.link.send('agent.hello', {
      agentVersion: AGENT_VERSION,
      objectives: this.cfg.objectives.map((o) => o.name),
      heartbeatMs: this.heartbeatMs,
      reportMs: this.reportMs,
    });
    this.schedule();
  }

  stop(): void {
    this.hb?.cancel();
    this.rep?.cancel();
  }

  private schedule(): void {
    this.stop();
    this.hb = this.timers.every(this.heartbeatMs, () => this.heartbeat());
    this.rep = this.timers.every(this.reportMs, () => void this.report());
  }

  heartbeat(): void {
    this.stats.heartbeatsSent++;
    this.link.send('agent.heartbeat', { uptimeMs: this.timers.now() - this.started, lastReport: this.reportNo, rssBytes: process.memoryUsage().rss });
  }

  /** Evaluates every objective and sends one report; skipped while the previous one still runs. */
  async report(): Promise<SlaReportBody | undefined> {
    if (this.evaluating) return undefined;
    this.evaluating = true;
    try {
      const objectives = await Promise.all(this.evaluators.map((e) => e.evaluate()));
      const body: SlaReportBody = { n: ++this.reportNo, at: this.timers.now(), status: overall(objectives), objectives };
      this.stats.reportsSent++;
      this.link.send('sla.report', body);
      return body;
    } finally {
      this.evaluating = false;
    }
  }

  /** host.config {heartbeatMs?, reportMs?}: bounded to [50 ms, 1 h]; anything else is rejected. */
  private onHostMessage(kind: string, body: unknown): void {
    this.stats.hostMessages++;
    const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const ms = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) && v >= 50 && v <= 3_600_000 ? v : undefined);
    if (kind !== 'host.config' || (b.heartbeatMs !== undefined && !ms(b.heartbeatMs)) || (b.reportMs !== undefined && !ms(b.reportMs))) {
      this.stats.hostMessagesRejected++;
      this.log.debug('ignored host message', { kind: String(kind).slice(0, 64) });
      return;
    }
    this.heartbeatMs = ms(b.heartbeatMs) ?? this.heartbeatMs;
    this.reportMs = ms(b.reportMs) ?? this.reportMs;
    this.log.info('host configuration applied', { heartbeatMs: this.heartbeatMs, reportMs: this.reportMs });
    this.schedule();
  }
}
