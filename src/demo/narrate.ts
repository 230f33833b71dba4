// Narration of the demo: turns the daemons' structured log lines (pino JSON: the host daemons'
// decisions, guest reports, migrations and session handovers; the leader's decisions) into plain
// sentences as they happen, and counts what the summary reports. Nothing here is scripted: a
// sentence exists only because a daemon logged the event. Unknown or malformed lines are ignored
// (counted); the daemons' output is bounded by the line reader.

export interface NarrationCounters {
  slaFrequencyRaises: number;
  budgetCaps: number;
  migrationRequests: number;
  migrationsStarted: number;
  migrations: number;
  migrationsFailed: number;
  sessionHandovers: number;
  slaViolationReports: number;
  leaderDecisions: number;
  linesRead: number;
  linesIgnored: number;
}

type Rec = Record<string, unknown>;
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const ghz = (kHz: unknown): string => (num(kHz) !== undefined ? `${((kHz as number) / 1e6).toFixed(2)} GHz` : '?');
const w = (v: unknown): string => (num(v) !== undefined ? `${(v as number).toFixed(1)} W` : '?');

export class Narrator {
  readonly counters: NarrationCounters = {
    slaFrequencyRaises: 0, budgetCaps: 0, migrationRequests: 0, migrationsStarted: 0, migrations: 0, migrationsFailed: 0,
    sessionHandovers: 0, slaViolationReports: 0, leaderDecisions: 0, linesRead: 0, linesIgnored: 0,
  };
  /** VM uuid -> last SLA status reported (a sentence only when it changes). */
  private readonly sla = new Map<string, string>();

  /** @param vmName uuid -> the VM's name (the world knows it). */
  constructor(private readonly vmName: (uuid: string) => string | undefined) {}

  private vm(uuid: unknown): string {
    const u = str(uuid) ?? '?';
    return this.vmName(u) ?? u.slice(0, 8);
  }

  /** One log line of `source` ('host-1', 'leader'); returns the sentence to print, if any. */
  line(source: string, text: string): string | undefined {
    this.counters.linesRead++;
    let r: unknown;
    try {
      r = JSON.parse(text);
    } catch {
      this.counters.linesIgnored++;
      return undefined;
    }
    if (typeof r !== 'object' || r === null || Array.isArray(r)) {
      this.counters.linesIgnored++;
      return undefined;
    }
    return source === 'leader' ? this.leader(r as Rec) : this.host(source, r as Rec);
  }

  private host(host: string, r: Rec): string | undefined {
    const event = str(r.event);
    if (event === 'sla.report') return this.report(host, r);
    if (event === 'migration.started') {
      this.counters.migrationsStarted++;
      return `${host}: live migration of ${this.vm(r.vm)} to ${str(r.to)} started (leader's order)`;
    }
    if (event === 'migration.succeeded') {
      this.counters.migrations++;
      return `${host}: ${this.vm(r.vm)} now runs on ${str(r.to)} (migration took ${num(r.elapsedMs) ?? '?'} ms)`;
    }
    if (event === 'migration.failed' || event === 'migration.aborted' || event === 'migration.refused') {
      if (event !== 'migration.refused') this.counters.migrationsFailed++;
      return `${host}: migration of ${this.vm(r.vm)} ${event.slice('migration.'.length)}${str(r.reason) || str(r.error) ? `: ${str(r.reason) ?? str(r.error)}` : ''}`;
    }
    if (event === 'guest.session') return this.session(host, r);
    if (r.policy !== undefined && str(r.kind) !== undefined && num(r.value) !== undefined && typeof r.reason === 'object' && r.reason !== null) {
      if (r.backend !== undefined) return this.decision(host, r);
      if (str(r.kind) === 'request-migration' && typeof r.refusal === 'object' && r.refusal !== null) {
        this.counters.migrationRequests++;
        return `${host}: asked the leader to move ${this.vm(r.vm ?? r.target)} away; not now: ${str((r.refusal as Rec).message) ?? 'refused'}`;
      }
    }
    return undefined;
  }

  private report(host: string, r: Rec): string | undefined {
    const vm = str(r.vm) ?? '?';
    const status = str(r.status) ?? 'unknown';
    if (r.stale === true) return undefined;
    const before = this.sla.get(vm);
    this.sla.set(vm, status);
    if (status === 'violated') this.counters.slaViolationReports++;
    if (before === status || (before === undefined && status === 'ok')) return undefined;
    const m = (r.measured as Rec | undefined) ?? {};
    const o = (r.objective as Rec | undefined) ?? {};
    const what = `${str(o.metric) ?? 'SLA'} ${num(m.value)?.toFixed(0) ?? '?'} ${str(m.unit) ?? ''}`.trim();
    return status === 'violated'
      ? `${host}: the agent in ${this.vm(vm)} reports its SLA violated (${what}, objective ${str(o.op) ?? ''} ${num(o.target) ?? '?'} ${str(o.unit) ?? ''})`
      : `${host}: ${this.vm(vm)} meets its SLA again (${what})`;
  }

  private session(host: string, r: Rec): string | undefined {
    const change = str(r.change);
    if (change === 'handed-off') {
      this.counters.sessionHandovers++;
      return `${host}: the M-channel session of ${this.vm(r.vm)} handed over to ${str(r.destination) ?? 'the destination'} (messages received so far: ${num(r.received) ?? '?'})`;
    }
    if (change === 'resumed-from-handover') return `${host}: ${this.vm(r.vm)}'s agent session resumed where the source left it`;
    if (change === 'handover-timeout') return `${host}: no session state for ${this.vm(r.vm)} in time: a new session starts`;
    return undefined;
  }

  private decision(host: string, r: Rec): string | undefined {
    const kind = str(r.kind);
    const reason = r.reason as Rec;
    const code = str(reason.code) ?? '';
    const text = str(reason.text) ?? '';
    const previous = num(r.previous) ?? num((r.inputs as Rec | undefined)?.capKHz);
    const value = num(r.value) as number;
    if (kind === 'set-frequency-cap') {
      if (code === 'sla-violation') {
        this.counters.slaFrequencyRaises++;
        return `${host}: SLA violation -> frequency cap up ${ghz(previous)} -> ${ghz(value)} (${text})`;
      }
      // Every cut but the relaxation of a host whose guests all have slack is the budget's.
      if (previous !== undefined && value < previous && code !== 'sla-slack') {
        this.counters.budgetCaps++;
        return `${host}: power over budget -> frequency capped ${ghz(previous)} -> ${ghz(value)} (${text}; the budget wins)`;
      }
      return `${host}: frequency cap ${ghz(previous)} -> ${ghz(value)} (${text})`;
    }
    if (kind === 'request-migration') {
      this.counters.migrationRequests++;
      return `${host}: repeated budget violations -> asks the leader to move ${this.vm(r.vm ?? r.target)} away (shed ${w(value)}; ${text})`;
    }
    return undefined;
  }

  private leader(r: Rec): string | undefined {
    const event = str(r.event);
    if (event === 'leader.decision') {
      this.counters.leaderDecisions++;
      const kind = str(r.kind);
      const reason = (r.reason as Rec | undefined) ?? {};
      if (kind === 'migrate-vm' || kind === 'migrate') return `leader: migrate ${this.vm(r.target)} ${str(r.from) ?? ''} -> ${str(r.to) ?? ''}: ${str(reason.text) ?? ''}`;
      if (kind === 'set-host-budget') return undefined; // frequent; the dashboard shows budgets
      return `leader: ${kind ?? 'decision'} ${str(r.target) ?? ''}: ${str(reason.text) ?? ''}`;
    }
    if (event === 'leader.migration-request') return `leader: ${str(r.host)} asks to move ${this.vm(r.vm)} (shed ${w(r.shedWatts)})`;
    if (event === 'leader.migration-end') return `leader: migration ${num(r.id) ?? ''} of ${this.vm(r.vm)} ${str(r.from)} -> ${str(r.to)}: ${str(r.outcome)}`;
    if (event === 'leader.host-registered') return `leader: ${str(r.host)} registered (budget ${w(r.budgetWatts)})`;
    if (event === 'leader.host-lost') return `leader: ${str(r.host)} lost`;
    return undefined;
  }
}
