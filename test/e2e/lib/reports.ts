// Checks a stream of numbered SLA reports as the host daemons saw it: every number exactly once,
// in order. The numbers are produced inside the guest (a probe prints a counter), so this checks
// the whole path (agent, virtio-serial, QEMU, M-channel session, handover between daemons),
// not the session layer's own sequence numbers.

export interface Seen { readonly n: number; readonly host: string; readonly time: number; readonly seq: number; readonly stale: boolean }

export interface Verdict {
  readonly count: number;
  readonly first: number | undefined;
  readonly last: number | undefined;
  /** Numbers in [first, last] that no daemon reported. */
  readonly lost: number;
  /** Reports of a number already seen. */
  readonly duplicated: number;
  /** Reports whose number is lower than one seen before (order broken). */
  readonly outOfOrder: number;
  readonly stale: number;
}

/** seen must be in the order the daemons received them (host clock). */
export function verdict(seen: readonly Seen[], expectFirst = 1): Verdict {
  const counts = new Map<number, number>();
  let outOfOrder = 0;
  let max = -Infinity;
  for (const s of seen) {
    counts.set(s.n, (counts.get(s.n) ?? 0) + 1);
    if (s.n < max) outOfOrder++;
    max = Math.max(max, s.n);
  }
  const nums = [...counts.keys()];
  const last = nums.length ? Math.max(...nums) : undefined;
  let lost = 0;
  if (last !== undefined) for (let n = expectFirst; n <= last; n++) if (!counts.has(n)) lost++;
  const duplicated = [...counts.values()].reduce((a, c) => a + (c - 1), 0);
  return { count: seen.length, first: nums.length ? Math.min(...nums) : undefined, last, lost, duplicated, outOfOrder, stale: seen.filter((s) => s.stale).length };
}
