// Live migrations the leader orders (host side, source). A migrate command is checked (the VM
// runs here, it is not already migrating, the daemon is not stopping, fewer than maxConcurrent
// are under way), started peer-to-peer through the hypervisor port, and answered at once; its
// progress goes to the leader at most once per progressEveryMs, then exactly one end:
// succeeded, failed (error code + message) or aborted. abort-migration aborts through the
// migration's AbortSignal. The guest's M-channel session follows the VM through the existing
// handover (told the destination before the VM leaves).
import type { Logger } from 'pino';
import type { Clock } from '../../domain/clock.js';
import { ErrorCodes, isVmanageError } from '../../domain/errors.js';
import type { Hypervisor, MigrationProgress, VmInfo } from '../../domain/ports/hypervisor.js';
import type { LibvirtMigrationOptions } from '../../adapters/libvirt/migrate.js';
import type { AbortMigrationCommand, CommandReply, MigrateCommand } from '../../adapters/leader-link/link.js';
import type { MigrationStatus } from '../../protocol/leader.js';

export interface MigrationRunnerOptions {
  readonly hypervisor: Hypervisor;
  readonly clock: Clock;
  readonly log: Logger;
  /** Where progress and ends go (the leader link). */
  readonly report: (s: MigrationStatus) => void;
  /** Called before the VM leaves, with the destination host's name (session handover). */
  readonly departing?: (vm: string, to: string) => void;
  /** Migrations under way at once (default 1: each one already saturates the link). */
  readonly maxConcurrent?: number;
  /** Least gap between two progress reports of one migration, ms (default 1000). */
  readonly progressEveryMs?: number;
}

export interface MigrationCounters { started: number; succeeded: number; failed: number; aborted: number; refused: number }

interface Running {
  readonly c: MigrateCommand;
  readonly abort: AbortController;
  startedAt: number;
  lastReport: number;
}

/** States in which a VM can be live-migrated. */
const MIGRATABLE = new Set<VmInfo['state']>(['running', 'paused', 'blocked']);

export class MigrationRunner {
  readonly counters: MigrationCounters = { started: 0, succeeded: 0, failed: 0, aborted: 0, refused: 0 };
  private readonly running = new Map<string, Running>();
  private readonly done = new Set<Promise<void>>();
  private stopping = false;

  constructor(private readonly o: MigrationRunnerOptions) {}

  /** Migrations under way (or being checked). */
  get active(): number {
    return this.running.size;
  }

  async start(c: MigrateCommand): Promise<CommandReply> {
    const refusal = this.precheck(c);
    if (refusal) return this.refuse(c, refusal);
    const r: Running = { c, abort: new AbortController(), startedAt: this.o.clock.now(), lastReport: -Infinity };
    this.running.set(c.vm, r); // reserved before the await: a second command for the VM is refused
    let info: VmInfo;
    try {
      info = await this.o.hypervisor.getVm(c.vm);
    } catch (err) {
      this.running.delete(c.vm);
      if (isVmanageError(err) && err.code === ErrorCodes.VmNotFound) return this.refuse(c, `VM ${c.vm} is not on this host`);
      return this.refuse(c, `cannot read VM ${c.vm}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!MIGRATABLE.has(info.state)) {
      this.running.delete(c.vm);
      return this.refuse(c, `VM ${c.vm} is ${info.state}, not running`);
    }
    if (this.stopping) {
      this.running.delete(c.vm);
      return this.refuse(c, 'the host daemon is stopping');
    }
    this.counters.started++;
    r.startedAt = this.o.clock.now();
    this.o.departing?.(c.vm, c.to);
    this.o.log.info({ event: 'migration.started', vm: c.vm, name: info.name, to: c.to, destinationUri: c.destinationUri, migrationId: c.migrationId }, 'leader-ordered migration started');
    const p = this.run(r).finally(() => this.done.delete(p));
    this.done.add(p);
    return { done: true };
  }

  abort(c: AbortMigrationCommand): CommandReply {
    const r = this.running.get(c.vm);
    if (!r) return { done: false, reason: `VM ${c.vm} is not migrating` };
    if (r.c.migrationId !== c.migrationId) return { done: false, reason: `VM ${c.vm} is in migration ${r.c.migrationId}, not ${c.migrationId}` };
    this.o.log.info({ event: 'migration.abort', vm: c.vm, migrationId: c.migrationId }, 'aborting a migration on the leader\'s order');
    r.abort.abort();
    return { done: true };
  }

  /** Refuses new migrations, aborts those under way and waits (at most waitMs) for their ends. */
  async stop(waitMs = 10_000): Promise<void> {
    this.stopping = true;
    for (const r of this.running.values()) r.abort.abort();
    if (this.done.size === 0) return;
    let timer: { cancel(): void } | undefined;
    await Promise.race([Promise.allSettled([...this.done]), new Promise<void>((resolve) => { timer = this.o.clock.setTimer(waitMs, resolve); })]);
    timer?.cancel();
  }

  private precheck(c: MigrateCommand): string | undefined {
    if (this.stopping) return 'the host daemon is stopping';
    const other = this.running.get(c.vm);
    if (other) return `VM ${c.vm} is already migrating (migration ${other.c.migrationId})`;
    const max = this.o.maxConcurrent ?? 1;
    if (this.running.size >= max) return `${this.running.size} migration(s) under way (at most ${max} at once)`;
    return undefined;
  }

  private refuse(c: MigrateCommand, reason: string): CommandReply {
    this.counters.refused++;
    this.o.log.warn({ event: 'migration.refused', vm: c.vm, to: c.to, migrationId: c.migrationId, reason }, 'migration refused');
    return { done: false, reason };
  }

  private async run(r: Running): Promise<void> {
    const { c } = r;
    const opts: LibvirtMigrationOptions = {
      destinationUri: c.destinationUri, signal: r.abort.signal, persistDest: true, undefineSource: true,
      onProgress: (p) => this.progress(r, p),
      ...(c.maxDowntimeMs !== undefined ? { maxDowntimeMs: c.maxDowntimeMs } : {}),
      ...(c.bandwidthMiBps !== undefined ? { bandwidthMiBps: c.bandwidthMiBps } : {}),
    };
    try {
      await this.o.hypervisor.migrate(c.vm, opts);
      this.end(r, 'succeeded');
    } catch (err) {
      const code = isVmanageError(err) ? err.code : ErrorCodes.MigrationFailed;
      const aborted = code === ErrorCodes.MigrationAborted || r.abort.signal.aborted;
      this.end(r, aborted ? 'aborted' : 'failed', `${code}: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      this.running.delete(c.vm);
    }
  }

  private progress(r: Running, p: MigrationProgress): void {
    const now = this.o.clock.now();
    if (now - r.lastReport < (this.o.progressEveryMs ?? 1000) || !this.running.has(r.c.vm)) return;
    r.lastReport = now;
    const total = p.dataTotalBytes ?? 0;
    const fraction = total > 0 ? Math.min(1, Math.max(0, (p.dataProcessedBytes ?? 0) / total)) : undefined;
    this.o.report({ ...this.base(r, now), state: 'running', ...(fraction !== undefined ? { progress: fraction } : {}) });
  }

  private end(r: Running, state: 'succeeded' | 'failed' | 'aborted', error?: string): void {
    this.counters[state]++;
    const s: MigrationStatus = { ...this.base(r, this.o.clock.now()), state, ...(error ? { error: error.slice(0, 2048) } : {}) };
    this.o.log[state === 'succeeded' ? 'info' : 'warn']({ event: `migration.${state}`, vm: r.c.vm, to: r.c.to, migrationId: r.c.migrationId, elapsedMs: s.elapsedMs, error }, `leader-ordered migration ${state}`);
    this.o.report(s);
  }

  private base(r: Running, now: number): Pick<MigrationStatus, 'migrationId' | 'vm' | 'to' | 'elapsedMs'> {
    return { migrationId: r.c.migrationId, vm: r.c.vm, to: r.c.to, elapsedMs: Math.max(0, Math.round(now - r.startedAt)) };
  }
}
