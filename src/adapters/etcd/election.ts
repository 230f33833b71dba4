// Leader election on etcd (npm etcd3 1.1.2) with a fencing token.
//
// - The campaign's lease has an explicit TTL (default 4 s): after a kill -9 of the leader, its
//   key goes when the lease expires, at most TTL after its last keep-alive, and the next
//   candidate is elected: failover within 5 s. Resigning revokes the lease: the next candidate
//   is elected at once.
// - The fencing token is the create revision of the campaign key in etcd: strictly larger for
//   every later leader. Commands to hosts carry it; hosts refuse older tokens
//   (domain/leader/fencing.ts). Leader writes to etcd go through fencedPut, a transaction that
//   succeeds only while the campaign key still exists with that revision.
// - On a campaign error (lease lost, etcd unreachable past the TTL) leader work stops at once:
//   `deposed` fires before anything else, then the candidate campaigns again after retryMs.
import { EventEmitter } from 'node:events';
import type { Campaign, Etcd3 } from 'etcd3';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';

export interface ElectionOptions {
  /** Election name (one per cluster). */
  readonly name: string;
  /** This candidate's identity, announced as the leader value. */
  readonly id: string;
  /** Lease TTL, s (etcd's minimum is 1). */
  readonly ttlSeconds?: number;
  /** Pause before campaigning again after a campaign error, ms. */
  readonly retryMs?: number;
}

export interface LeaderElectionEvents {
  elected: [token: string];
  deposed: [reason: string];
}

export class LeaderElection extends EventEmitter<LeaderElectionEvents> {
  private campaign?: Campaign;
  private key?: string;
  private tokenValue?: string;
  private stopped = true;
  private retryTimer?: NodeJS.Timeout;
  /** Campaign errors seen (exposed for metrics). */
  campaignErrors = 0;

  constructor(private readonly client: Etcd3, private readonly opts: ElectionOptions) {
    super();
  }

  get ttlSeconds(): number {
    return this.opts.ttlSeconds ?? 4;
  }

  /** The fencing token while leader, else undefined. */
  get token(): string | undefined {
    return this.tokenValue;
  }

  get isLeader(): boolean {
    return this.tokenValue !== undefined;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.campaignNow();
  }

  /** Leaves the election (revoking the lease): another candidate is elected at once. */
  async resign(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const c = this.campaign;
    this.campaign = undefined;
    this.depose('resigned');
    if (c) await c.resign().catch(() => undefined);
  }

  /** The current leader's id, or undefined when there is none. */
  async leader(): Promise<string | undefined> {
    return (await this.client.election(this.opts.name, this.ttlSeconds).leader()) ?? undefined;
  }

  /**
   * Writes key = value only while this candidate still holds the leadership it was elected
   * with; throws NOT_LEADER when not leader, STALE_FENCING_TOKEN when etcd says it was deposed.
   */
  async fencedPut(key: string, value: string): Promise<void> {
    const token = this.tokenValue;
    const campaignKey = this.key;
    if (token === undefined || campaignKey === undefined) throw new VmanageError(ErrorCodes.NotLeader, `election ${this.opts.name}: ${this.opts.id} is not the leader`, { election: this.opts.name });
    const r = await this.client.if(campaignKey, 'Create', '==', token).then(this.client.put(key).value(value)).commit();
    if (!r.succeeded) {
      // Deposed without the lease noticing yet: stop now and campaign again.
      this.campaign?.emit('error', new Error('fenced: the campaign key changed in etcd'));
      this.depose('fenced: the campaign key changed in etcd');
      throw new VmanageError(ErrorCodes.StaleFencingToken, `election ${this.opts.name}: token ${token} no longer holds the leadership`, { election: this.opts.name, token });
    }
  }

  private campaignNow(): void {
    const c = this.client.election(this.opts.name, this.ttlSeconds).campaign(this.opts.id);
    this.campaign = c;
    c.on('elected', () => {
      if (this.campaign !== c) return;
      void this.readToken(c);
    });
    c.on('error', (err: Error) => {
      if (this.campaign !== c) return;
      this.campaignErrors++;
      this.campaign = undefined;
      this.depose(`campaign error: ${err.message}`);
      c.resign().catch(() => undefined);
      if (!this.stopped) this.retryTimer = setTimeout(() => this.campaignNow(), this.opts.retryMs ?? 1000);
    });
  }

  private async readToken(c: Campaign): Promise<void> {
    try {
      const key = await c.getCampaignKey();
      const res = await this.client.get(key).exec();
      const kv = res.kvs[0];
      if (!kv || this.campaign !== c) return;
      this.key = key;
      this.tokenValue = String(kv.create_revision);
      this.emit('elected', this.tokenValue);
    } catch (err) {
      c.emit('error', err as Error);
    }
  }

  private depose(reason: string): void {
    const was = this.tokenValue !== undefined;
    this.tokenValue = undefined;
    this.key = undefined;
    if (was) this.emit('deposed', reason);
  }
}
