// A warn log for a source that untrusted peers can make noisy (a hostile guest breaking the
// protocol in a loop must not flood the host's journal): at most one line per `everyMs`; lines
// dropped meanwhile are counted and the next line says how many (`suppressed`). The caller
// counts every event in its metrics anyway; this only bounds the log.
import type { Clock } from '../domain/clock.js';

export type WarnFn = (obj: Record<string, unknown>, msg: string) => void;

export interface LimitedWarn extends WarnFn {
  /** Lines not written so far (all time). */
  readonly suppressedTotal: number;
}

export function limitedWarn(clock: Clock, everyMs: number, write: WarnFn): LimitedWarn {
  if (!(everyMs >= 0 && Number.isFinite(everyMs))) throw new RangeError(`limitedWarn everyMs: expected a finite number >= 0, got ${everyMs}`);
  let last = -Infinity;
  let pending = 0;
  let total = 0;
  const fn = (obj: Record<string, unknown>, msg: string): void => {
    const now = clock.now();
    if (now - last < everyMs) {
      pending++;
      total++;
      return;
    }
    last = now;
    write(pending > 0 ? { ...obj, suppressed: pending } : obj, msg);
    pending = 0;
  };
  return Object.defineProperty(fn, 'suppressedTotal', { get: () => total }) as LimitedWarn;
}
