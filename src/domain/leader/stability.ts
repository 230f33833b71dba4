// Stability rules for migrations and host power changes, as leader-side memory. Pure: time comes
// in as `now` (ms since epoch); memory is bounded (entries expire, maps are pruned).
// - per-VM cooldown with exponential backoff: after the k-th move of a VM within
//   `backoffResetMs`, it may not move again for baseCooldownMs x 2^(k-1), at most maxCooldownMs;
//   a failed migration counts as a move;
// - no return: a VM is not sent back to a host it left within `noReturnMs`;
// - concurrency: at most `maxPerHost` migrations in flight touching one host (as source or
//   destination) and `maxPerCluster` in the whole cluster.
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
};

interface VmHistory {
  moves: number;
  lastMoveAt: number;
  /** Hosts left, with when (newest last; at most MAX_LEFT). */
  left: { host: string; at: number }[];
}

const MAX_LEFT = 8;

export class MigrationLedger {
  private readonly vms = new Map<string, VmHistory>();
  private readonly inFlight = new Map<string, { from: string; to: string }>();
  private readonly perHost = new Map<string, number>();

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
