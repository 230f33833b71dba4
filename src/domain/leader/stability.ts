// Stability rules for migrations and host power changes, as leader-side memory. Pure: time comes
// in as `now` (ms since epoch); memory is bounded (entries expire, maps are pruned).
// - per-VM cooldown with exponential backoff: after the k-th move of a VM within
//   `backoffResetMs`, it may not move again for baseCooldownMs x 2^(k-1), at most maxCooldownMs;
//   a failed migration counts as a move;
// - no return: a VM is not sent back to a host it left within `noReturnMs`;
// - concurrency: at most `maxPerHost` migrations in flight touching one host (as source or
//   destination) and `maxPerCluster` in the whole cluster;
// - overload hold: a host over the planner's CPU threshold whose VMs still get all the CPU they
//   ask for (not saturated) is relieved only once it has stayed over for `overloadHoldMs`
//   (persistent, not one peak); the ledger remembers since when each host is over;
// - demand trend: the cluster's CPU demand at each pass over the last window, for consolidation
//   (no host is emptied while demand rises).
import { z } from 'zod';

export const stabilityParams = z.object({
  baseCooldownMs: z.number().int().nonnegative(),
  maxCooldownMs: z.number().int().nonnegative(),
  backoffResetMs: z.number().int().positive(),
  noReturnMs: z.number().int().nonnegative(),
  maxPerHost: z.number().int().positive(),
  maxPerCluster: z.number().int().positive(),
  /** A host stays on at least this long after power-on before it may be emptied, ms. */
  minOnMs: z.number().int().nonnegative(),
  /** ... and off at least this long before it is powered on again, ms. */
  minOffMs: z.number().int().nonnegative(),
  /**
   * A host over the CPU threshold but not short of CPU (use under 98 % of its CPUs) must stay so
   * this long before the audit moves a VM off it, ms (0 = at once). A saturated host, one over
   * budget and one asking are relieved at once.
   */
  overloadHoldMs: z.number().int().nonnegative(),
}).strict();

export type StabilityParams = z.infer<typeof stabilityParams>;

export const stabilityDefaults: StabilityParams = {
  baseCooldownMs: 600_000,
  maxCooldownMs: 4 * 3_600_000,
  backoffResetMs: 6 * 3_600_000,
  noReturnMs: 3_600_000,
  maxPerHost: 2,
  maxPerCluster: 20,
  minOnMs: 1_800_000,
  minOffMs: 600_000,
  overloadHoldMs: 300_000,
};

interface VmHistory {
  moves: number;
  lastMoveAt: number;
  /** Hosts left, with when (newest last; at most MAX_LEFT). */
  left: { host: string; at: number }[];
}

const MAX_LEFT = 8;
/** Cluster demand points kept for the trend (a 1-h window at a 30-s audit is 120). */
const MAX_DEMAND = 1024;

export class MigrationLedger {
  private readonly vms = new Map<string, VmHistory>();
  private readonly inFlight = new Map<string, { from: string; to: string }>();
  private readonly perHost = new Map<string, number>();
  /** Hosts over the CPU threshold at the last pass, with since when (ms); only those. */
  private overSince = new Map<string, number>();

  /** When the VM may move again, ms since epoch (0 = now). */
  cooldownUntil(uuid: string, p: StabilityParams): number {
    const h = this.vms.get(uuid);
    if (!h || h.moves === 0) return 0;
    const ms = Math.min(p.maxCooldownMs, p.baseCooldownMs * 2 ** (h.moves - 1));
    return h.lastMoveAt + ms;
  }

  /** Why the VM cannot move now, or undefined. */
  vmBlocked(uuid: string, now: number, p: StabilityParams): 'in-flight' | 'cooldown' | undefined {
    if (this.inFlight.has(uuid)) return 'in-flight';
    if (now < this.cooldownUntil(uuid, p)) return 'cooldown';
    return undefined;
  }

  /** Hosts the VM left within noReturnMs. */
  recentlyLeft(uuid: string, now: number, p: StabilityParams): string[] {
    const h = this.vms.get(uuid);
    if (!h) return [];
    return h.left.filter((l) => now - l.at < p.noReturnMs).map((l) => l.host);
  }

  hostBusy(host: string, p: StabilityParams): boolean {
    return (this.perHost.get(host) ?? 0) >= p.maxPerHost;
  }

  clusterBusy(p: StabilityParams): boolean {
    return this.inFlight.size >= p.maxPerCluster;
  }

  inFlightCount(host?: string): number {
    return host === undefined ? this.inFlight.size : (this.perHost.get(host) ?? 0);
  }

  /** A migration was started (decided and handed to the hosts). */
  started(uuid: string, from: string, to: string, now: number, p: StabilityParams): void {
    if (this.inFlight.has(uuid)) return;
    this.inFlight.set(uuid, { from, to });
    this.bump(from, 1);
    this.bump(to, 1);
    const h = this.vms.get(uuid) ?? { moves: 0, lastMoveAt: 0, left: [] };
    if (now - h.lastMoveAt >= p.backoffResetMs) h.moves = 0;
    h.moves++;
    h.lastMoveAt = now;
    this.vms.set(uuid, h);
  }

  /** The migration ended; on success the VM left `from`. A failure keeps the backoff. */
  finished(uuid: string, ok: boolean, now: number): void {
    const f = this.inFlight.get(uuid);
    if (!f) return;
    this.inFlight.delete(uuid);
    this.bump(f.from, -1);
    this.bump(f.to, -1);
    const h = this.vms.get(uuid);
    if (ok && h) {
      h.left.push({ host: f.from, at: now });
      if (h.left.length > MAX_LEFT) h.left.shift();
    }
  }

  /**
   * Records which hosts are over the CPU threshold now (one call per pass, with every such host)
   * and returns since when each has been over without a break, ms. A host missing from `over`
   * is forgotten, so memory is bounded by the hosts over at the last pass.
   */
  noteOverloaded(over: Iterable<string>, now: number): ReadonlyMap<string, number> {
    const next = new Map<string, number>();
    for (const host of over) next.set(host, this.overSince.get(host) ?? now);
    this.overSince = next;
    return next;
  }

  /** The cluster's CPU demand at each pass, oldest first (cores), at most MAX_DEMAND entries. */
  private readonly demand: { at: number; cores: number }[] = [];

  /**
   * Records the cluster's current CPU demand (cores) and returns its least-squares slope over
   * the last windowMs, cores per hour (0 with fewer than 3 points). Keeps only windowMs of points.
   */
  demandTrend(now: number, cores: number, windowMs: number): number {
    const pts = this.demand;
    pts.push({ at: now, cores: Number.isFinite(cores) ? cores : 0 });
    while (pts.length > MAX_DEMAND || (pts.length > 0 && now - (pts[0] as { at: number }).at > windowMs)) pts.shift();
    if (pts.length < 3) return 0;
    const meanAt = pts.reduce((a, d) => a + d.at, 0) / pts.length;
    const meanCores = pts.reduce((a, d) => a + d.cores, 0) / pts.length;
    let num = 0;
    let den = 0;
    for (const d of pts) {
      num += (d.at - meanAt) * (d.cores - meanCores);
      den += (d.at - meanAt) ** 2;
    }
    return den > 0 ? (num / den) * 3_600_000 : 0;
  }

  /** Drops history older than every window (call once per audit). */
  prune(now: number, p: StabilityParams): void {
    const keep = Math.max(p.backoffResetMs, p.noReturnMs, p.maxCooldownMs);
    for (const [uuid, h] of this.vms) {
      if (!this.inFlight.has(uuid) && now - h.lastMoveAt >= keep) this.vms.delete(uuid);
    }
  }

  get trackedVms(): number {
    return this.vms.size;
  }

  private bump(host: string, by: number): void {
    const n = (this.perHost.get(host) ?? 0) + by;
    if (n <= 0) this.perHost.delete(host);
    else this.perHost.set(host, n);
  }
}
