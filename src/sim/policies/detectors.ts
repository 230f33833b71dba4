// Host overload detectors of Beloglazov & Buyya 2012, as CloudSim runs them:
// THR (static threshold), IQR and MAD (adaptive threshold 1 - s * spread of the host's
// utilisation history), LR / LRR (regression over the last 10 samples, predicted one migration
// interval ahead, times a safety parameter). History-based detectors fall back to THR 0.7 while
// the history is too short (12 samples for IQR/MAD, 10 for LR/LRR).
import type { Plan } from '../plan.js';
import { HISTORY_LENGTH } from '../plan.js';
import { iqr, mad, olsLine } from './stats.js';

export interface OverloadDetector {
  readonly name: string;
  /** Is host h overloaded now (extra < 0) or after adding VM `extra`? */
  overloaded(plan: Plan, h: number, extra: number): boolean;
}

function utilisationWith(plan: Plan, h: number, extra: number): number {
  const d = extra >= 0 ? (plan.dc.demand[extra] as number) : 0;
  return ((plan.demandSum[h] as number) + d) / (plan.dc.totalMips[h] as number);
}

export function thr(threshold: number): OverloadDetector {
  return { name: `thr-${threshold}`, overloaded: (plan, h, extra) => utilisationWith(plan, h, extra) > threshold };
}

const FALLBACK = thr(0.7);
const scratch = new Float64Array(HISTORY_LENGTH);

function spreadDetector(name: string, s: number, spread: (x: Float64Array, n: number) => number): OverloadDetector {
  return {
    name,
    overloaded(plan, h, extra) {
      const n = plan.hostHistory(h, extra, scratch);
      if (n < 12) return FALLBACK.overloaded(plan, h, extra);
      const upper = 1 - s * spread(scratch, n);
      return utilisationWith(plan, h, extra) > upper;
    },
  };
}

export const iqrDetector = (s: number): OverloadDetector => spreadDetector(`iqr-${s}`, s, iqr);
export const madDetector = (s: number): OverloadDetector => spreadDetector(`mad-${s}`, s, mad);

/**
 * LR / LRR. CloudSim's weighted (and robust) regression only applies its tricube weights when
 * 40 % or more of them are zero, which never happens for 10 samples, so both reduce to ordinary
 * least squares (its own results file notes LR and LRR coincide); we implement that.
 */
export function lrDetector(name: string, s: number): OverloadDetector {
  const window = 10;
  const y = new Float64Array(window);
  return {
    name,
    overloaded(plan, h, extra) {
      const n = plan.hostHistory(h, extra, scratch);
      if (n < window) return FALLBACK.overloaded(plan, h, extra);
      for (let i = 0; i < window; i++) y[i] = scratch[window - 1 - i] as number; // oldest first
      const [a, b] = olsLine(y);
      const migrationIntervals = 1; // ceil(longest migration (< 30 s) / 300 s interval)
      return (a + b * (window + migrationIntervals)) * s >= 1;
    },
  };
}
