// The Cluster Leader core: accepts host daemons on an M-channel server, keeps the cluster state
// (hosts from SQLite and their registrations, VMs and power from their updates), splits the
// cluster power budget, plans and carries out migrations and consolidation, and journals every
// decision. It does leader work only while its term (TermSource) says it leads, and stamps every
// budget and command with the term's fencing token. It implements LeaderApi for the HTTP API,
// dashboard, vmanagectl and the demo. Wiring only: the decisions come from domain/leader.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { systemClock } from '../../adapters/clock.js';
import { LeaderStore, openDatabase, type Db } from '../../adapters/store/index.js';
import type { Clock, TimerHandle } from '../../domain/clock.js';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import { consumersToShed, type BudgetConsumer } from '../../domain/leader/budget-split.js';
import { migrationPolicy } from '../../domain/leader/index.js';
import { ChannelServer, type Channel, type ChannelServerOptions, type Listener } from '../../mchannel/index.js';
import { leaderFamily, type LeaderCommand } from '../../protocol/leader.js';
import { createRegistry } from '../../protocol/registry.js';
import type { ActionAnswer, BudgetView, DecisionView, HostView, LeaderApi, LeaderEvents, LeaderRole, LeaderStatus, MigrationView, PlaceAnswer, PlaceRequest, VmView } from './api.js';
import { budgetDecision, computeSplit, consumersOf, type SplitOutcome } from './budgets.js';
import type { LeaderConfig } from './config.js';
import { DecisionLog } from './decisions.js';
import { HostTable, type LiveHost } from './hosts.js';
import { HostLink } from './host-link.js';
import { listenerFor } from './listen.js';
import { LocalTerm } from './local-term.js';
import { createLeaderRegistry } from './metrics.js';
import { MigrationTracker } from './migrations.js';
import { Operations } from './operations.js';
import { Planner } from './planner.js';
import { leaderValidator, newLeaderCounters, type LeaderCounters } from './sessions.js';
import type { TermSource } from './term.js';

/** Splits asked for by events (registrations) within this long are done once, ms. */
const SPLIT_COALESCE_MS = 100;
/** Event-driven splits (registrations, demand shifts) run at most once per this long, ms. */
const MAX_SPLIT_INTERVAL_MS = 1000;
/** The leader acknowledges host messages this long after the first unacknowledged one, ms (a
 *  host holds about one update for replay; its close() waits at most this long for the ack). */
const LEADER_ACK_DELAY_MS = 4000;

export interface LeaderDeps {
  readonly clock?: Clock;
  /** Where hosts connect (tests: a memory network); default from cfg.listen. */
  readonly listener?: Listener;
  /** The term (default: LocalTerm on the leader's SQLite store; etcd-term.ts with etcd). */
  readonly term?: (db: Db) => TermSource;
  /** Channel timings (tests). */
  readonly channel?: Partial<Pick<ChannelServerOptions, 'heartbeatMs' | 'deadAfterMs' | 'sessionLingerMs' | 'errorBudget'>>;
}

export interface Leader extends LeaderApi {
  readonly id: string;
  /** Where hosts connect (socket path, or host:port). */
  readonly address: string;
  readonly counters: LeaderCounters;
  /** Prometheus metrics of the leader (served by the HTTP API at /metrics). */
  readonly registry: Registry;
  stop(): Promise<void>;
}

export class LeaderCore implements Leader {
  readonly events = new EventEmitter<LeaderEvents>();
  readonly counters = newLeaderCounters();
  readonly registry: Registry;
  readonly table = new HostTable();
  readonly store: LeaderStore;
  readonly decisionLog: DecisionLog;
  readonly tracker: MigrationTracker;
  readonly planner: Planner;
  readonly ops: Operations;
  readonly link: HostLink;
  role: LeaderRole = 'starting';
  leaderId: string | undefined;
  clusterBudgetWatts: number;
  lastSplit: SplitOutcome | undefined;
  lastSplitAt: number | undefined;
  private lastDemand = new Map<string, number>();
  private lastShortfall = 0;
  /** Dry run: the budget last journaled per host. */
  private readonly dryRunBudgets = new Map<string, number>();
  private readonly startedAt: number;
  /** The pending timer of each periodic loop, by loop name. */
  private readonly timers = new Map<string, TimerHandle>();
  private stopped = false;
  private readonly violation = { hostTicks: 0, overTicks: 0 };

  constructor(readonly cfg: LeaderConfig, readonly log: Logger, readonly clock: Clock, readonly db: Db, readonly term: TermSource, readonly server: ChannelServer, readonly address: string) {
    this.startedAt = clock.now();
    this.clusterBudgetWatts = cfg.cluster.budgetWatts;
    this.store = new LeaderStore(db);
    this.decisionLog = new DecisionLog(this.store, db, this.events, log.child({ part: 'journal' }));
    const migration = migrationPolicy.create();
    this.tracker = new MigrationTracker({
      store: this.store, table: this.table, decisions: this.decisionLog, ledger: migration.ledger, clock, log,
      params: () => cfg.params.migration, token: () => this.token, command: (h, c) => this.link.command(h, c),
      emit: (m) => this.events.emit('migration', m), timeoutMs: cfg.failure.migrationTimeoutMs,
    });
    this.planner = new Planner(this, migration);
    this.ops = new Operations(this);
    this.link = new HostLink(this);
    this.registry = createLeaderRegistry(this);
  }

  get id(): string {
    return this.cfg.id;
  }

  /** The term's token while leading, else undefined. */
  get token(): number | undefined {
    return this.role === 'leader' ? this.term.token : undefined;
  }

  /** Loads the stored hosts, closes migrations a previous life left running, takes the term. */
  async start(): Promise<void> {
    this.table.load(this.store.hosts(), (id, err) => this.log.warn({ host: id, err: String(err) }, 'stored host registration unusable: skipped'));
    for (const m of this.store.migrations({ status: 'running' })) this.store.finishMigration(m.id, 'failed', this.clock.now(), 'the leader restarted before the migration ended');
    this.server.events.on('channel', (ch: Channel) => this.link.serve(ch));
    this.term.events.on('elected', (token) => this.elected(token));
    this.term.events.on('deposed', (reason) => this.deposed(reason));
    this.term.events.on('leader', (id) => { this.leaderId = id; });
    await this.term.start();
    if (this.role === 'starting') {
      this.role = 'standby';
      this.events.emit('role', { role: 'standby', token: 0 });
    }
    this.every('tick', this.cfg.periods.tickMs, () => this.tick());
    this.every('split', this.cfg.periods.splitMs, () => this.split('period', 'periodic split'));
    this.every('audit', this.cfg.periods.auditMs, () => void this.planner.pass({ dryRun: false }).catch((err: unknown) => this.log.error({ err }, 'planning pass failed')));
  }

  /** Runs fn every ms (after it returns); a failure is logged and the loop goes on. */
  private every(name: string, ms: number, fn: () => void): void {
    const run = (): void => {
      if (this.stopped) return;
      try {
        fn();
      } catch (err) {
        this.log.error({ err, loop: name }, 'leader periodic work failed');
      }
      if (!this.stopped) this.timers.set(name, this.clock.setTimer(ms, run));
    };
    this.timers.set(name, this.clock.setTimer(ms, run));
  }

  private elected(token: number): void {
    this.role = 'leader';
    this.leaderId = this.cfg.id;
    this.log.info({ event: 'leader.elected', token }, `leading with fencing token ${token}`);
    this.events.emit('role', { role: 'leader', token });
    this.split('elected', 'leader elected');
  }

  private deposed(reason: string): void {
    if (this.role !== 'leader') return;
    this.role = 'standby';
    this.log.warn({ event: 'leader.deposed', reason }, `no longer leading: ${reason}`);
    this.events.emit('role', { role: 'standby', token: this.term.token ?? 0 });
    // Connections dropped without ending the sessions (as at a restart): the hosts reconnect,
    // are told who leads now, and move to that endpoint.
    if (!this.stopped) for (const ch of this.server.channels()) ch.detach();
  }

  private tick(): void {
    const now = this.clock.now();
    for (const h of this.table.checkLiveness(now, this.cfg.failure.hostTimeoutMs)) {
      this.log.warn({ event: 'leader.host-lost', host: h.id, lastSeen: h.lastSeen }, `host ${h.id} lost: no update for ${this.cfg.failure.hostTimeoutMs} ms`);
      this.events.emit('host', this.table.view(h));
    }
    this.tracker.tick();
    let clusterWatts = 0;
    for (const h of this.table.hosts.values()) {
      if (h.liveness !== 'up' || h.measuredWatts === undefined) continue;
      clusterWatts += h.measuredWatts;
      this.violation.hostTicks++;
      if (h.measuredWatts > h.budgetWatts) this.violation.overTicks++;
    }
    this.events.emit('power', { at: now, clusterWatts, clusterBudgetWatts: this.clusterBudgetWatts });
    if (this.role === 'leader') {
      const consumers = consumersOf(this.table, now);
      if (!this.demandShifted(consumers)) return;
      if (this.splitDueIn(now) === 0) this.split('demand-shifted', 'demand shifted', consumers);
      else this.requestSplit('demand-shifted', 'demand shifted');
    }
  }

  private demandShifted(consumers: readonly { id: string; demandWatts: number }[]): boolean {
    if (consumers.length !== this.lastDemand.size) return true;
    for (const c of consumers) {
      const prev = this.lastDemand.get(c.id);
      if (prev === undefined || Math.abs(prev - c.demandWatts) > this.cfg.cluster.shiftWatts) return true;
    }
    return false;
  }

  /**
   * A split soon (within SPLIT_COALESCE_MS): many hosts registering at once (a leader restart, a
   * rack coming up) cost one split, not one each.
   */
  requestSplit(code: string, why: string): void {
    if (this.timers.has('split-soon') || this.stopped) return;
    const delay = Math.max(SPLIT_COALESCE_MS, this.splitDueIn(this.clock.now()));
    this.timers.set('split-soon', this.clock.setTimer(delay, () => {
      this.timers.delete('split-soon');
      this.split(code, why);
    }));
  }

  /** ms until a split on demand (not the periodic one) may run: splits asked for by events run at
   *  most once per min(MAX_SPLIT_INTERVAL_MS, tickMs) (at 10,000 hosts a split is milliseconds
   *  of work plus the journal and the budgets it sends). */
  private splitDueIn(now: number): number {
    if (this.lastSplitAt === undefined) return 0;
    return Math.max(0, this.lastSplitAt + Math.min(MAX_SPLIT_INTERVAL_MS, this.cfg.periods.tickMs) - now);
  }

  /** Splits the cluster budget now and applies (journal, store, leader.budget) what changed. */
  split(code: string, why: string, consumers?: BudgetConsumer[]): SplitOutcome | undefined {
    if (this.role !== 'leader' || this.stopped) return undefined;
    const now = this.clock.now();
    const s = computeSplit(this.table, this.clusterBudgetWatts, this.cfg.params.budget, now, consumers);
    this.lastSplit = s;
    this.lastSplitAt = now;
    this.lastDemand = new Map(s.consumers.map((c) => [c.id, c.demandWatts]));
    this.warnShortfall(s);
    if (s.changed.length === 0) return s;
    const byId = new Map(s.consumers.map((c) => [c.id, c]));
    const changed = new Map<string, number>();
    const previous = new Map<string, number>();
    // One transaction for the split's journal entries and budgets (thousands of hosts at once).
    this.db.transaction(() => {
      for (const id of s.changed) {
        const h = this.table.get(id) as LiveHost;
        const watts = s.budgets.get(id) as number;
        // Dry run: budgets never change, so the same decision would come back every split.
        if (this.cfg.dryRun && this.dryRunBudgets.get(id) === watts) continue;
        this.decisionLog.record(now, budgetDecision(id, watts, h.budgetWatts, byId.get(id), s, code, why), this.token, this.cfg.dryRun ? 'dry-run' : 'applied');
        if (this.cfg.dryRun) {
          this.dryRunBudgets.set(id, watts);
          continue;
        }
        previous.set(id, h.budgetWatts);
        h.budgetWatts = watts;
        changed.set(id, watts);
      }
      if (changed.size > 0) this.store.setBudgets(now, changed, code);
    })();
    // Lowered budgets go out first, so hosts raised in the same split rarely overlap them.
    const order = [...changed].map(([id, watts]) => ({ id, delta: watts - (previous.get(id) as number) })).sort((a, b) => a.delta - b.delta);
    for (const { id } of order) this.link.sendBudget(this.table.get(id) as LiveHost);
    return s;
  }

  /** The budget cannot cover every serving host's floor: says (once per change) which to shed. */
  private warnShortfall(s: SplitOutcome): void {
    const short = Math.round(s.shortfallWatts);
    if (short === this.lastShortfall) return;
    this.lastShortfall = short;
    if (short <= 0) return;
    const shed = consumersToShed(s.totalWatts, s.consumers, this.cfg.params.budget, (a, b) => a.demandWatts - b.demandWatts);
    this.log.warn({ event: 'leader.budget-shortfall', shortfallWatts: short, totalWatts: s.totalWatts, shed }, `the cluster budget is ${short} W short of the hosts' idle power: drain or power off ${shed.join(', ') || 'hosts'}`);
  }

  command(h: LiveHost, c: LeaderCommand): Promise<{ done: boolean; reason?: string }> {
    return this.link.command(h, c);
  }

  // ---- LeaderApi ----

  status(): LeaderStatus {
    const hosts = { total: 0, up: 0, draining: 0, off: 0, lost: 0 };
    let clusterWatts = 0;
    let vms = 0;
    for (const h of this.table.hosts.values()) {
      hosts.total++;
      // An off host is expected to be silent: counted as off, neither up nor lost.
      if (h.state === 'off') hosts.off++;
      else if (h.liveness === 'lost') hosts.lost++;
      else hosts.up++;
      if (h.state === 'draining') hosts.draining++;
      if (h.liveness === 'up') clusterWatts += h.measuredWatts ?? 0;
      vms += h.vms.size;
    }
    const token = this.term.token;
    return {
      id: this.cfg.id, role: this.role, token: token ?? 0, ...(this.leaderId !== undefined ? { leaderId: this.leaderId } : {}),
      uptimeS: Math.round((this.clock.now() - this.startedAt) / 1000), clusterBudgetWatts: this.clusterBudgetWatts, clusterWatts,
      hosts, vms, migrationsInFlight: this.tracker.inFlight.size,
      budgetViolationPct: this.violation.hostTicks === 0 ? 0 : (100 * this.violation.overTicks) / this.violation.hostTicks,
    };
  }

  hosts(): readonly HostView[] {
    return [...this.table.hosts.values()].map((h) => this.table.view(h));
  }

  vms(): readonly VmView[] {
    return this.table.vmViews((uuid) => this.tracker.migratingTo(uuid));
  }

  budgets(): BudgetView {
    const s = this.lastSplit;
    const byId = new Map((s?.consumers ?? []).map((c) => [c.id, c]));
    return {
      clusterWatts: this.clusterBudgetWatts,
      hosts: [...this.table.hosts.values()].map((h) => {
        const c = byId.get(h.id);
        return {
          host: h.id, budgetWatts: h.budgetWatts, demandWatts: c?.demandWatts ?? 0, floorWatts: c?.floorWatts ?? 0, capWatts: c?.capWatts ?? h.attrs.capWatts,
          ...(h.measuredWatts !== undefined ? { measuredWatts: h.measuredWatts } : {}),
        };
      }),
      ...(this.lastSplitAt !== undefined ? { lastSplitAt: this.lastSplitAt } : {}),
    };
  }

  setClusterBudget(watts: number, opts: { dryRun: boolean }): Promise<ActionAnswer> {
    return Promise.resolve(this.ops.setClusterBudget(watts, opts));
  }

  place(req: PlaceRequest, opts: { dryRun: boolean }): Promise<PlaceAnswer> {
    return Promise.resolve(this.ops.place(req, opts));
  }

  migrate(vm: string, to: string | undefined, opts: { dryRun: boolean }): Promise<ActionAnswer> {
    return this.ops.migrate(vm, to, opts);
  }

  drain(host: string, opts: { dryRun: boolean }): Promise<ActionAnswer> {
    return this.ops.drain(host, opts, true);
  }

  undrain(host: string, opts: { dryRun: boolean }): Promise<ActionAnswer> {
    return this.ops.drain(host, opts, false);
  }

  plan(opts: { dryRun: boolean }): Promise<ActionAnswer> {
    return this.planner.pass(opts);
  }

  decisions(q: { limit: number; before?: number }): readonly DecisionView[] {
    return this.decisionLog.list(q);
  }

  explain(id: number): DecisionView | undefined {
    return this.decisionLog.view(id);
  }

  migrations(q: { limit: number }): readonly MigrationView[] {
    return this.tracker.views(q.limit);
  }

  abortMigration(id: number, opts: { dryRun: boolean }): Promise<ActionAnswer | undefined> {
    return this.ops.abortMigration(id, opts);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    await this.term.stop().catch((err: unknown) => this.log.warn({ err: String(err) }, 'giving up the term failed'));
    await this.server.close();
    this.db.close();
  }
}

/** Opens the store, listens for hosts, takes the term and starts the leader's periodic work. */
export async function startLeader(cfg: LeaderConfig, log: Logger, deps: LeaderDeps = {}): Promise<Leader> {
  const clock = deps.clock ?? systemClock;
  const db = openDatabase(cfg.store.path);
  let listener: Listener | undefined;
  try {
    const term = deps.term ? deps.term(db) : new LocalTerm(db, cfg.id);
    listener = deps.listener ?? await listenerFor(cfg.listen);
    const server = new ChannelServer(listener, {
      role: 'leader', identity: cfg.id, validator: leaderValidator(createRegistry(leaderFamily)), clock, logger: log.child({ part: 'mchannel' }),
      whenReplayFull: 'evict', maxSessions: 100_000,
      // Hosts send an update a second: one ack per LEADER_ACK_DELAY_MS (or per heartbeat, or
      // carried by a budget / command) instead of one write per update on every connection.
      ackDelayMs: LEADER_ACK_DELAY_MS, ackEvery: 16, ...deps.channel,
    });
    const core = new LeaderCore(cfg, log, clock, db, term, server, listener.address);
    await core.start();
    log.info({ event: 'leader.started', address: listener.address, hosts: core.table.hosts.size, token: term.token }, `leader ${cfg.id} listening on ${listener.address}`);
    return core;
  } catch (err) {
    await listener?.close().catch(() => {});
    db.close();
    if (err instanceof VmanageError) throw err;
    throw new VmanageError(ErrorCodes.Unavailable, `leader ${cfg.id} failed to start: ${(err as Error).message}`, {}, { cause: err });
  }
}
