// The guest agent's core: sends agent.hello at the start of every session, heartbeats every heartbeatMs and SLA
// reports every reportMs over a GuestLink (the M-channel session, guest role). Host messages
// are untrusted: anything but a well-formed host.config is counted and ignored. Timers are the
// process's (this is a daemon entry), injected for tests.
import type { AgentConfig } from './config.js';
import type { Logger } from './log.js';
import { makeEvaluator, type Evaluator, type ObjectiveResult, PushStore } from './sla.js';

export const AGENT_VERSION = '0.1.0';

/** What the agent needs from the channel: queue a message, hear the host. */
export interface GuestLink {
  send(kind: string, body: Record<string, unknown>): void;
  onMessage(handler: (kind: string, body: unknown) => void): void;
  /** Runs handler at every handshake that starts a new session (the agent then says hello). */
  onSession(handler: (fresh: boolean) => void): void;
  close(): Promise<void>;
}

/** One sla.report per objective per evaluation, shaped as src/protocol/guest.ts's slaReport. */
export function toReport(r: ObjectiveResult, windowMs: number, at: number): Record<string, unknown> | undefined {
  if (r.status === 'unknown' || r.value === null) return undefined;
  const unit = r.unit ?? '';
  return {
    status: r.status,
    objective: { metric: r.name, op: r.op, target: r.target, unit },
    measured: { value: r.value, unit },
    window_s: Math.max(0.001, windowMs / 1000),
    ts: at,
  };
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
  /** Objectives whose status could not be measured this period (not reported). */
  unknownResults: number;
  heartbeatsSent: number;
  hostMessages: number;
  hostMessagesRejected: number;
}

export class Agent {
  readonly push: PushStore;
  readonly stats: AgentStats = { reportsSent: 0, unknownResults: 0, heartbeatsSent: 0, hostMessages: 0, hostMessagesRejected: 0 };
  private readonly evaluators: Evaluator[];
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
    link.onSession(() => this.hello());
  }

  start(): void {
    this.schedule();
  }

  /** agent.hello: the first message of every session. */
  hello(): void {
    this.link.send('agent.hello', { version: AGENT_VERSION, capabilities: ['agent.heartbeat', 'sla.report', 'host.config'] });
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
    this.link.send('agent.heartbeat', { ts: this.timers.now(), uptime_s: (this.timers.now() - this.started) / 1000 });
  }

  /** Evaluates every objective and sends one sla.report per measured objective; skipped while
   *  the previous evaluation still runs. Returns the results (for tests and logs). */
  async report(): Promise<ObjectiveResult[] | undefined> {
    if (this.evaluating) return undefined;
    this.evaluating = true;
    try {
      const results = await Promise.all(this.evaluators.map((e) => e.evaluate()));
      const at = this.timers.now();
      for (const r of results) {
        const body = toReport(r, this.reportMs, at);
        if (!body) {
          this.stats.unknownResults++;
          continue;
        }
        this.stats.reportsSent++;
        this.link.send('sla.report', body);
      }
      return results;
    } finally {
      this.evaluating = false;
    }
  }

  /** host.config {report_interval_s} (validated by the channel against the guest protocol). */
  private onHostMessage(kind: string, body: unknown): void {
    this.stats.hostMessages++;
    const s = (body as { report_interval_s?: unknown } | null)?.report_interval_s;
    if (kind !== 'host.config' || typeof s !== 'number' || !(s >= 0.05 && s <= 3600)) {
      this.stats.hostMessagesRejected++;
      this.log.debug('ignored host message', { kind: String(kind).slice(0, 64) });
      return;
    }
    this.reportMs = Math.round(s * 1000);
    this.log.info('host configuration applied', { reportMs: this.reportMs });
    this.schedule();
  }
}
