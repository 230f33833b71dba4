// The leader's term from an etcd election (HA: a leader and standbys). Every leader process
// campaigns under `cfg.name`; the winner's token is the create revision of its campaign key
// (adapters/etcd/election.ts), a number strictly larger for every later term, so hosts refuse the
// budgets and commands of a leader that was deposed (it stamps them with an older token).
// - elected(token): this process leads; deposed(reason): it stops leading at once (lease lost,
//   etcd unreachable past the TTL, fenced, resigned), then campaigns again as a standby.
// - A process frozen (SIGSTOP, VM pause, long GC) for longer than 2/3 of the lease TTL may have
//   lost its lease (kept alive every TTL/3) without the etcd client knowing yet: a watchdog sees
//   the gap in its own ticks and deposes at once, before the client's keep-alive fails.
// - Lease guard (TTL >= 3 s): while leading, the term asks etcd every TTL/4 how long its campaign
//   lease still lives (LeaseTimeToLive, whole seconds, a lower bound). When that time runs out
//   without a newer answer (etcd unreachable, partition), it deposes itself before the lease can
//   expire, i.e. before a standby can be elected: no two leaders at once by the clock of this
//   process. With a TTL under 3 s the seconds are too coarse and only the client's lease-loss
//   detection applies (about TTL + 1 s after etcd stops answering).
// - leader(id): who leads now, from an observer of the election (for a standby's "not the leader;
//   leader is X" answers); undefined while nobody leads.
// - stop(): resigns (revokes the lease, so a standby is elected at once) and closes the client.
import { readFileSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { Etcd3, type ElectionObserver, type IOptions } from 'etcd3';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { LeaderElection } from '../../adapters/etcd/election.js';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import type { TermEvents, TermSource } from './term.js';

export interface EtcdTermConfig {
  readonly endpoints: readonly string[];
  /** Election (cluster) name. */
  readonly name: string;
  /** Lease TTL, s (default 4: failover within 5 s of a kill -9). */
  readonly ttlSeconds?: number;
  /** Client certificate for an etcd that requires TLS (file paths). */
  readonly tls?: { readonly ca: string; readonly cert: string; readonly key: string };
  /** Pause before campaigning or observing again after an error, ms (default 500). */
  readonly retryMs?: number;
}

export interface EtcdTermCounters {
  elected: number;
  deposed: number;
  /** Depositions by the freeze watchdog (the process stood still for longer than the TTL). */
  frozen: number;
  observerErrors: number;
  /** Lease confirmations that succeeded / failed (etcd unreachable or slow). */
  leaseChecks: number;
  leaseCheckFailures: number;
}

/** Watchdog tick, ms. */
const TICK_MS = 250;
/** Longest wait for the lease revocation at stop(), ms. */
const STOP_WAIT_MS = 2000;

export class EtcdTerm implements TermSource {
  readonly events = new EventEmitter<TermEvents>();
  readonly counters: EtcdTermCounters = { elected: 0, deposed: 0, frozen: 0, observerErrors: 0, leaseChecks: 0, leaseCheckFailures: 0 };
  private readonly client: Etcd3;
  private readonly election: LeaderElection;
  private current: number | undefined;
  private observer: ElectionObserver | undefined;
  private observeTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private lastTick = 0;
  private leaderId: string | undefined;
  private running = false;
  /** Until when (performance.now(), ms) the lease is sure to live; Infinity without the guard. */
  private leaseSureUntil = Infinity;
  /** When the last confirmation was asked for (performance.now(), ms). */
  private leaseConfirmedAt = 0;
  private leaseTimer: NodeJS.Timeout | undefined;
  /** Bumped at every election and deposition: a late lease answer of an old term is dropped. */
  private generation = 0;

  constructor(private readonly cfg: EtcdTermConfig, private readonly id: string, private readonly log: Logger) {
    if (cfg.endpoints.length === 0) throw new VmanageError(ErrorCodes.ConfigInvalid, 'etcd.endpoints: at least one endpoint is needed', {});
    this.client = new Etcd3(clientOptions(cfg));
    this.election = new LeaderElection(this.client, { name: cfg.name, id, ttlSeconds: this.ttlSeconds, retryMs: cfg.retryMs ?? 500 });
    this.election.on('elected', (token) => this.onElected(token));
    this.election.on('deposed', (reason) => this.onDeposed(reason));
  }

  get ttlSeconds(): number {
    return this.cfg.ttlSeconds ?? 4;
  }

  get token(): number | undefined {
    return this.current;
  }

  /** Who leads now as last observed (undefined: nobody, or not known yet). */
  get leader(): string | undefined {
    return this.leaderId;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.lastTick = performance.now();
    this.watchdog = setInterval(() => this.tick(), TICK_MS);
    this.election.start();
    await this.observe();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.watchdog);
    clearTimeout(this.observeTimer);
    this.endGuard();
    // Revoking the lease hands over at once; with etcd unreachable it would hang: the lease then
    // simply expires after the TTL.
    await within(this.election.resign(), STOP_WAIT_MS);
    const obs = this.observer;
    this.observer = undefined;
    if (obs) await within(obs.cancel().catch(() => undefined), STOP_WAIT_MS);
    this.setLeader(undefined);
    this.client.close();
  }

  private onElected(raw: string): void {
    const token = Number(raw);
    if (!Number.isSafeInteger(token) || token <= 0) {
      // Cannot happen with etcd revisions below 2^53; never lead with a token hosts cannot order.
      this.log.error({ token: raw }, 'etcd election: the revision is not a usable fencing token; resigning');
      void this.election.resign().then(() => this.running && this.election.start());
      return;
    }
    this.current = token;
    this.counters.elected++;
    this.beginGuard(token);
    this.log.info({ event: 'term.elected', token, election: this.cfg.name }, 'elected leader');
    this.events.emit('elected', token);
    this.setLeader(this.id);
  }

  private onDeposed(reason: string): void {
    if (this.current === undefined) return;
    this.current = undefined;
    this.endGuard();
    this.counters.deposed++;
    this.log.warn({ event: 'term.deposed', reason, election: this.cfg.name }, 'no longer the leader');
    this.events.emit('deposed', reason);
    this.setLeader(this.observer?.leader());
  }

  /**
   * A gap in the ticks during which the lease may have expired: stop leading now. The lease is
   * kept alive every TTL/3, so it can expire 2/3 TTL after the process stopped running.
   */
  private tick(): void {
    const now = performance.now();
    const gap = now - this.lastTick;
    this.lastTick = now;
    if (this.current === undefined) return;
    if (gap >= (this.ttlSeconds * 2000) / 3 - TICK_MS) {
      this.counters.frozen++;
      this.stepDown(`the process stood still for ${Math.round(gap)} ms (lease TTL ${this.ttlSeconds} s)`);
    } else if (now >= this.leaseSureUntil - TICK_MS) {
      this.stepDown(`etcd has not confirmed the campaign lease for ${Math.round(now - this.leaseConfirmedAt)} ms; it may expire now`);
    }
  }

  /** Deposes now, leaves the election (its lease may be gone) and campaigns again as a standby. */
  private stepDown(reason: string): void {
    this.onDeposed(reason);
    void this.election.resign().then(() => {
      if (this.running) this.election.start();
    });
  }

  private beginGuard(token: number): void {
    this.endGuard();
    if (this.ttlSeconds < 3) return;
    const gen = this.generation;
    // Keep-alives run every TTL/3, so a lease that was just alive has at least 2/3 TTL left.
    this.leaseConfirmedAt = performance.now();
    this.leaseSureUntil = this.leaseConfirmedAt + (this.ttlSeconds * 2000) / 3;
    void this.confirmLease(gen, token, undefined);
  }

  private endGuard(): void {
    this.generation++;
    clearTimeout(this.leaseTimer);
    this.leaseSureUntil = Infinity;
  }

  /** One LeaseTimeToLive round trip, then the next after TTL/4. */
  private async confirmLease(gen: number, token: number, leaseId: string | undefined): Promise<void> {
    const periodMs = (this.ttlSeconds * 1000) / 4;
    const sent = performance.now();
    let id = leaseId;
    try {
      id ??= await this.leaseOf(token);
      const r = await this.client.leaseClient.leaseTimeToLive({ ID: id }, { deadline: Date.now() + periodMs });
      if (gen !== this.generation) return;
      const left = Number(r.TTL);
      if (!(left > 0)) {
        this.stepDown(`etcd says the campaign lease ${id} has expired`);
        return;
      }
      this.counters.leaseChecks++;
      // At least `left` whole seconds remained when etcd answered, which was after `sent`.
      this.leaseSureUntil = Math.max(this.leaseSureUntil, sent + left * 1000);
      this.leaseConfirmedAt = sent;
    } catch (err) {
      if (gen !== this.generation) return;
      this.counters.leaseCheckFailures++;
      this.log.debug({ err: (err as Error).message }, 'lease confirmation failed');
    }
    if (gen === this.generation) this.leaseTimer = setTimeout(() => void this.confirmLease(gen, token, id), periodMs);
  }

  /** The lease of this term's campaign key (the key whose create revision is the token). */
  private async leaseOf(token: number): Promise<string> {
    const res = await this.client.getAll().prefix(`election/${this.cfg.name}/`).exec();
    const kv = res.kvs.find((k) => Number(k.create_revision) === token);
    if (!kv) throw new Error(`no campaign key with revision ${token}`);
    return kv.lease;
  }

  private async observe(): Promise<void> {
    if (!this.running) return;
    try {
      const obs = await this.client.election(this.cfg.name, this.ttlSeconds).observe();
      if (!this.running) {
        await obs.cancel().catch(() => undefined);
        return;
      }
      this.observer = obs;
      this.setLeader(obs.leader());
      obs.on('change', (id: string | undefined) => this.setLeader(id));
      obs.on('error', (err: Error) => this.observeAgain(obs, err));
    } catch (err) {
      this.observeAgain(undefined, err as Error);
    }
  }

  private observeAgain(obs: ElectionObserver | undefined, err: Error): void {
    if (obs && obs !== this.observer) return;
    this.counters.observerErrors++;
    this.observer = undefined;
    void obs?.cancel().catch(() => undefined);
    this.log.warn({ err: err.message, election: this.cfg.name }, 'etcd election observer failed; observing again');
    if (this.running) this.observeTimer = setTimeout(() => void this.observe(), this.cfg.retryMs ?? 500);
  }

  private setLeader(id: string | undefined): void {
    // While this process leads, it is the leader whatever a lagging observer says.
    const who = this.current !== undefined ? this.id : id;
    if (who === this.leaderId) return;
    this.leaderId = who;
    this.events.emit('leader', who);
  }
}

/** Waits for p, at most ms. */
async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => undefined), new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); })]);
  clearTimeout(timer);
}

export function clientOptions(cfg: EtcdTermConfig): IOptions {
  const opts: IOptions = { hosts: [...cfg.endpoints], dialTimeout: 2000 };
  if (cfg.tls) {
    const read = (what: string, path: string): Buffer => {
      try {
        return readFileSync(path);
      } catch (err) {
        throw new VmanageError(ErrorCodes.ConfigInvalid, `etcd.tls.${what}: cannot read ${path}: ${(err as Error).message}`, { path });
      }
    };
    opts.credentials = { rootCertificate: read('ca', cfg.tls.ca), certChain: read('cert', cfg.tls.cert), privateKey: read('key', cfg.tls.key) };
  }
  return opts;
}

/** The TermSource the leader daemon uses when its configuration has an `etcd` section. */
export function createEtcdTerm(cfg: EtcdTermConfig, id: string, log: Logger): TermSource {
  return new EtcdTerm(cfg, id, log);
}

/** Exposes an EtcdTerm's counters as vmanage_leader_term_<field>_total (read at scrape time). */
export function registerTermMetrics(register: Registry, counters: Readonly<EtcdTermCounters>): void {
  for (const field of Object.keys(counters) as (keyof EtcdTermCounters)[]) {
    new Counter({
      name: `vmanage_leader_term_${field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}_total`,
      help: `etcd term counter ${field} (src/daemons/leader/etcd-term.ts)`, registers: [register],
      collect() { this.reset(); this.inc(counters[field]); },
    });
  }
}
