// Carrying out the leader's migration decisions and following them to their end. A migrate
// decision becomes a migrations row (LeaderStore) and a leader.command {op: 'migrate'} to the
// source host with the destination's libvirt URI; the source reports host.migration-status
// (running with progress, then succeeded / failed / aborted). The MigrationLedger (stability rules)
// learns of every start and end. A running migration with no status for migrationTimeoutMs is
// failed. The operator can abort a running migration: a leader.command {op: 'abort-migration'} to
// the source, whose host.migration-status 'aborted' (or 'succeeded', if it was too late) ends it.
// After a success the VM is listed on the destination at once, and once both hosts have
// reported again the decision's actual outcome records their measured power next to the
// prediction. Units: W, MiB, ms.
import type { Logger } from 'pino';
import type { Clock } from '../../domain/clock.js';
import type { LeaderDecision } from '../../domain/cluster.js';
import type { MigrationLedger } from '../../domain/leader/stability.js';
import type { MigrationParams } from '../../domain/leader/migration.js';
import type { LeaderStore } from '../../adapters/store/index.js';
import type { LeaderCommand, MigrationStatus } from '../../protocol/leader.js';
import type { MigrationView } from './api.js';
import type { DecisionLog } from './decisions.js';
import type { HostTable, LiveHost } from './hosts.js';
import type { Problem } from './sessions.js';

export interface InFlight {
  readonly id: number;
  readonly decisionId: number;
  readonly vm: string;
  readonly from: string;
  readonly to: string;
  readonly startedAt: number;
  readonly predicted: LeaderDecision['predicted'];
  lastStatusAt: number;
  progress?: number;
}

interface Observation { readonly decisionId: number; readonly m: InFlight; readonly endedAt: number; readonly elapsedMs: number; readonly after: { from: number; to: number } }

export interface MigrationDeps {
  readonly store: LeaderStore;
  readonly table: HostTable;
  readonly decisions: DecisionLog;
  readonly ledger: MigrationLedger;
  readonly clock: Clock;
  readonly log: Logger;
  readonly params: () => MigrationParams;
  readonly token: () => number | undefined;
  readonly command: (host: LiveHost, cmd: LeaderCommand) => Promise<{ done: boolean; reason?: string }>;
  readonly emit: (m: MigrationView) => void;
  readonly timeoutMs: number;
}

export type MigrationOutcome = 'succeeded' | 'failed' | 'aborted';

export class MigrationTracker {
  readonly inFlight = new Map<number, InFlight>();
  readonly outcomes = new Map<MigrationOutcome, number>();
  private readonly observations: Observation[] = [];

  constructor(private readonly d: MigrationDeps) {}

  /** Destination of VM `uuid` while it migrates. */
  migratingTo(uuid: string): string | undefined {
    for (const m of this.inFlight.values()) if (m.vm === uuid) return m.to;
    return undefined;
  }

  /** True while a migration leaves or enters `host`. */
  inFlightTouching(host: string): boolean {
    for (const m of this.inFlight.values()) if (m.from === host || m.to === host) return true;
    return false;
  }

  /** Starts a journaled migrate decision; resolves once the source host answered the command. */
  async start(decisionId: number, dec: LeaderDecision): Promise<void> {
    const { store, table, clock } = this.d;
    const now = clock.now();
    const from = dec.from !== undefined ? table.get(dec.from) : undefined;
    const to = dec.to !== undefined ? table.get(dec.to) : undefined;
    const uri = to?.reg.migrationUri;
    const token = this.d.token();
    if (!from?.channel || !to || uri === undefined || token === undefined) {
      const why = !from?.channel ? `source ${dec.from} is not connected` : !to ? `destination ${dec.to} is unknown` : uri === undefined ? `destination ${dec.to} registered no migration URI` : 'not the leader';
      this.d.decisions.outcome(decisionId, 'refused', now, { error: why });
      return;
    }
    const id = store.startMigration({ decisionId, vm: dec.target, from: from.id, to: to.id, memoryMiB: dec.value, at: now });
    const m: InFlight = { id, decisionId, vm: dec.target, from: from.id, to: to.id, startedAt: now, lastStatusAt: now, predicted: dec.predicted };
    this.inFlight.set(id, m);
    this.d.ledger.started(m.vm, m.from, m.to, now, this.d.params().stability);
    this.d.emit(this.view(m, 'running'));
    try {
      const reply = await this.d.command(from, { token, op: 'migrate', vm: m.vm, to: m.to, destinationUri: uri, migrationId: id });
      if (!reply.done) this.finish(m, 'failed', `the source refused: ${reply.reason ?? 'no reason given'}`);
    } catch (err) {
      this.finish(m, 'failed', `migrate command not answered: ${(err as Error).message}`);
    }
  }

  /**
   * Asks the source host to abort migration `id`. undefined: no such migration; otherwise whether
   * the host took the order (the end still comes as its host.migration-status). With dryRun,
   * only whether it could be asked.
   */
  async abort(id: number, dryRun: boolean): Promise<{ done: boolean; reason: string; decisionId?: number } | undefined> {
    const m = this.inFlight.get(id);
    if (!m) {
      const stored = this.d.store.migrations({ limit: 10_000 }).find((r) => r.id === id);
      return stored ? { done: false, reason: `migration ${id} is ${stored.status}, not running` } : undefined;
    }
    const src = this.d.table.get(m.from);
    const token = this.d.token();
    const what = `migration ${id} of ${m.vm} ${m.from} -> ${m.to}`;
    if (token === undefined) return { done: false, reason: 'not the leader', decisionId: m.decisionId };
    if (!src?.channel) return { done: false, reason: `${what}: source ${m.from} is not connected`, decisionId: m.decisionId };
    if (dryRun) return { done: true, reason: `${what} would be aborted by ${m.from}`, decisionId: m.decisionId };
    this.d.log.info({ event: 'leader.migration-abort', id, vm: m.vm, from: m.from, to: m.to }, `aborting ${what}`);
    try {
      const reply = await this.d.command(src, { token, op: 'abort-migration', vm: m.vm, migrationId: id });
      if (!reply.done) return { done: false, reason: `${m.from} refused to abort ${what}: ${reply.reason ?? 'no reason given'}`, decisionId: m.decisionId };
    } catch (err) {
      return { done: false, reason: `abort of ${what} not answered: ${(err as Error).message}`, decisionId: m.decisionId };
    }
    return { done: true, reason: `${m.from} is aborting ${what}; its end follows as the migration's status`, decisionId: m.decisionId };
  }

  /** A host.migration-status from host `source`. */
  status(source: string, s: MigrationStatus): Problem | undefined {
    const m = this.inFlight.get(s.migrationId);
    if (!m) return { kind: 'unknown-migration', detail: `migration ${s.migrationId} (${s.vm}) is not in flight` };
    if (m.from !== source || m.vm !== s.vm || m.to !== s.to) return { kind: 'wrong-source', detail: `migration ${s.migrationId} is ${m.vm} ${m.from} -> ${m.to}; ${source} reported ${s.vm} -> ${s.to}` };
    m.lastStatusAt = this.d.clock.now();
    if (s.state === 'running') {
      if (s.progress !== undefined) m.progress = s.progress;
      this.d.emit(this.view(m, 'running'));
      return undefined;
    }
    this.finish(m, s.state, s.error, s.elapsedMs);
    return undefined;
  }

  finish(m: InFlight, outcome: MigrationOutcome, error?: string, elapsedMs?: number): void {
    if (!this.inFlight.delete(m.id)) return;
    const { store, table, clock, ledger } = this.d;
    const now = clock.now();
    store.finishMigration(m.id, outcome, now, error);
    ledger.finished(m.vm, outcome === 'succeeded', now);
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
    const elapsed = elapsedMs ?? now - m.startedAt;
    this.d.log.info({ event: 'leader.migration-end', id: m.id, vm: m.vm, from: m.from, to: m.to, outcome, error, elapsedMs: elapsed }, `migration ${m.id} of ${m.vm}: ${outcome}`);
    if (outcome === 'succeeded') {
      const src = table.get(m.from);
      const dst = table.get(m.to);
      const vm = src?.vms.get(m.vm);
      if (src && dst && vm) {
        src.vms.delete(m.vm);
        dst.vms.set(m.vm, vm);
      }
      this.d.decisions.outcome(m.decisionId, 'succeeded', now, { elapsedMs: elapsed });
      this.observations.push({ decisionId: m.decisionId, m, endedAt: now, elapsedMs: elapsed, after: { from: src?.lastSeen ?? now, to: dst?.lastSeen ?? now } });
    } else {
      this.d.decisions.outcome(m.decisionId, outcome, now, { elapsedMs: elapsed, ...(error !== undefined ? { error } : {}) });
    }
    this.d.emit(this.view(m, outcome, now, error));
  }

  /** Times out silent migrations and records measured power once both hosts reported again. */
  tick(): void {
    const now = this.d.clock.now();
    for (const m of [...this.inFlight.values()]) {
      if (now - m.lastStatusAt > this.d.timeoutMs) this.finish(m, 'failed', `no migration status for ${Math.round((now - m.lastStatusAt) / 1000)} s`);
    }
    for (let i = this.observations.length - 1; i >= 0; i--) {
      const o = this.observations[i] as Observation;
      const src = this.d.table.get(o.m.from);
      const dst = this.d.table.get(o.m.to);
      const reported = src && dst && src.lastSeen > o.endedAt && dst.lastSeen > o.endedAt;
      if (!reported && now - o.endedAt < this.d.timeoutMs) continue;
      this.observations.splice(i, 1);
      this.d.decisions.outcome(o.decisionId, 'succeeded', now, {
        elapsedMs: o.elapsedMs,
        ...(src?.measuredWatts !== undefined ? { sourceWatts: src.measuredWatts } : {}),
        ...(dst?.measuredWatts !== undefined ? { destWatts: dst.measuredWatts } : {}),
        ...(o.m.predicted.sourceWatts !== undefined ? { predictedSourceWatts: o.m.predicted.sourceWatts } : {}),
        ...(o.m.predicted.watts !== undefined ? { predictedDestWatts: o.m.predicted.watts } : {}),
      });
    }
  }

  view(m: InFlight, state: MigrationView['state'], endedAt?: number, error?: string): MigrationView {
    return {
      id: m.id, vm: m.vm, from: m.from, to: m.to, state, startedAt: m.startedAt, decisionId: m.decisionId,
      ...(m.progress !== undefined ? { progress: m.progress } : {}), ...(endedAt !== undefined ? { endedAt } : {}), ...(error !== undefined ? { error } : {}),
    };
  }

  views(limit: number): MigrationView[] {
    return this.d.store.migrations({ limit: Math.max(0, Math.min(10_000, Math.floor(limit))) }).map((r) => {
      const live = this.inFlight.get(r.id);
      return {
        id: r.id, vm: r.vm, from: r.from, to: r.to, state: r.status, startedAt: r.startedAt,
        ...(r.decisionId !== undefined ? { decisionId: r.decisionId } : {}), ...(r.endedAt !== undefined ? { endedAt: r.endedAt } : {}),
        ...(r.error !== undefined ? { error: r.error } : {}), ...(live?.progress !== undefined ? { progress: live.progress } : {}),
      };
    });
  }
}
