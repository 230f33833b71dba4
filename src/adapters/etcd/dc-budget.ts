// The shared data-centre budget store for multi-cluster coordination. Each cluster leader
// publishes its cluster's aggregate (floor, cap, predicted demand; W) under
// `<prefix>/<dc>/clusters/<cluster>` with a lease, so a cluster whose leader dies drops out after
// the TTL; every leader reads all entries and computes its own share with the same pure split
// (domain/leader/budget-split.ts), so all leaders agree without talking to each other.
// Entries are untrusted input: each is size-limited and schema-checked; bad ones are skipped and
// counted (`invalidEntries`), at most `maxClusters` are read.
import type { Etcd3, Lease } from 'etcd3';
import { z } from 'zod';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import { splitBudget, type BudgetConsumer, type BudgetSplit, type BudgetSplitParams } from '../../domain/leader/budget-split.js';

export interface DcBudgetOptions {
  readonly dc: string;
  readonly cluster: string;
  /** Lease TTL of the published entry, s. */
  readonly ttlSeconds?: number;
  readonly prefix?: string;
  readonly maxClusters?: number;
}

const MAX_ENTRY_BYTES = 4096;
const watts = z.number().finite().min(0).max(1e9);
const entrySchema = z.object({ floorWatts: watts, capWatts: watts, demandWatts: watts, at: z.number().int().nonnegative() }).strict();
export type DcEntry = z.infer<typeof entrySchema>;

const NAME = /^[A-Za-z0-9._-]{1,64}$/;

export class DcBudgetStore {
  private lease?: Lease;
  /** Entries skipped as malformed since start. */
  invalidEntries = 0;
  private readonly base: string;

  constructor(private readonly client: Etcd3, private readonly opts: DcBudgetOptions) {
    for (const [what, v] of [['dc', opts.dc], ['cluster', opts.cluster]] as const) {
      if (!NAME.test(v)) throw new VmanageError(ErrorCodes.ConfigInvalid, `${what}: expected 1-64 characters of A-Z a-z 0-9 . _ -, got ${JSON.stringify(v)}`, { [what]: v });
    }
    this.base = `${opts.prefix ?? 'vmanage/dc'}/${opts.dc}/clusters/`;
  }

  /** Publishes this cluster's aggregate (the consumer's id is the cluster name). */
  async publish(c: Omit<BudgetConsumer, 'id'>, at: number): Promise<void> {
    const entry = entrySchema.parse({ floorWatts: c.floorWatts, capWatts: c.capWatts, demandWatts: c.demandWatts, at });
    if (!this.lease || this.lease.revoked()) {
      const lease = this.client.lease(this.opts.ttlSeconds ?? 10);
      lease.on('lost', () => {
        if (this.lease === lease) this.lease = undefined;
      });
      this.lease = lease;
    }
    try {
      await this.lease.put(this.base + this.opts.cluster).value(JSON.stringify(entry));
    } catch (err) {
      this.lease = undefined;
      throw new VmanageError(ErrorCodes.Unavailable, `etcd: cannot publish the demand of cluster ${this.opts.cluster}: ${(err as Error).message}`, { cluster: this.opts.cluster }, { cause: err });
    }
  }

  /** Every cluster's published aggregate, sorted by cluster name. */
  async consumers(): Promise<BudgetConsumer[]> {
    let raw: Record<string, string>;
    try {
      raw = await this.client.getAll().prefix(this.base).limit(this.opts.maxClusters ?? 10_000).strings();
    } catch (err) {
      throw new VmanageError(ErrorCodes.Unavailable, `etcd: cannot read the data-centre budget entries: ${(err as Error).message}`, {}, { cause: err });
    }
    const out: BudgetConsumer[] = [];
    for (const [key, value] of Object.entries(raw)) {
      const id = key.slice(this.base.length);
      const entry = parseEntry(value);
      if (!NAME.test(id) || !entry) {
        this.invalidEntries++;
        continue;
      }
      out.push({ id, ...pick(entry) });
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * This cluster's share of `totalWatts`, W. When its own entry is missing (lease lost, not yet
   * published), `self` stands in for it so the share is never computed without this cluster.
   */
  async share(totalWatts: number, self: Omit<BudgetConsumer, 'id'>, params: BudgetSplitParams, previous?: ReadonlyMap<string, number>): Promise<{ watts: number; split: BudgetSplit }> {
    const all = await this.consumers();
    if (!all.some((c) => c.id === this.opts.cluster)) all.push({ id: this.opts.cluster, ...self });
    const split = splitBudget(totalWatts, all, params, previous);
    return { watts: split.budgets.get(this.opts.cluster) ?? 0, split };
  }

  /** Withdraws this cluster's entry at once (revokes the lease). */
  async close(): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    if (lease) await lease.revoke().catch(() => undefined);
  }
}

function pick(e: DcEntry): Omit<BudgetConsumer, 'id'> {
  return { floorWatts: e.floorWatts, capWatts: e.capWatts, demandWatts: e.demandWatts };
}

export function parseEntry(value: string): DcEntry | undefined {
  if (value.length > MAX_ENTRY_BYTES) return undefined;
  try {
    const r = entrySchema.safeParse(JSON.parse(value));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}
