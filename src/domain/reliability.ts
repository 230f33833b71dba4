// Host reliability score: a pure model (no I/O, time passed in) that turns hardware error
// reports into one number in (0, 1] the leader uses for placement (1 = no recent trouble).
//
// Model (docs/reliability.md says why): every kind of event adds weight * count to a "hazard"
// accumulator that decays exponentially with that kind's half-life, so a burst of corrected errors
// counts a lot today and little next week, while one uncorrected error weighs as much as a
// hundred corrected ones and is remembered longer. Current sensor threshold states add a
// non-decaying term while they last. The score is h50 / (h50 + hazard): 0.5 when the hazard
// equals h50 (by default: one uncorrected memory error just now).
// Memory: O(number of kinds); events may arrive out of order.

export const ReliabilityEventKinds = ['memory-ce', 'memory-ue', 'pcie-ce', 'pcie-ue', 'sel-warning', 'sel-critical'] as const;
export type ReliabilityEventKind = (typeof ReliabilityEventKinds)[number];

export interface ReliabilityEvent {
  readonly kind: ReliabilityEventKind;
  /** When it happened, ms since epoch (the reporter's clock); later than now is clamped to now. */
  readonly at: number;
  /** How many errors the record stands for (EDAC counter delta, rasdaemon err_count). */
  readonly count: number;
  /** Where it came from, e.g. "edac:mc0", "rasdaemon", "ipmi-sel:127.0.0.1:623". */
  readonly source: string;
}

export interface ThresholdStates {
  /** Sensors currently past a non-critical (warning) threshold. */
  readonly warning: number;
  /** Sensors currently past a critical or non-recoverable threshold. */
  readonly critical: number;
}

export interface ReliabilityParams {
  /** Hazard added per error, by kind (dimensionless). */
  readonly weights: Readonly<Record<ReliabilityEventKind, number>>;
  /** Time for a kind's contribution to halve, ms. */
  readonly halfLifeMs: Readonly<Record<ReliabilityEventKind, number>>;
  /** Hazard per sensor while it is past a warning / critical threshold (does not decay). */
  readonly thresholdWeights: ThresholdStates;
  /** Hazard at which the score is 0.5. */
  readonly h50: number;
  /** Largest count one event may carry; larger is refused as implausible input. */
  readonly maxCount: number;
}

const HOUR = 3_600_000;

export const defaultReliabilityParams: ReliabilityParams = {
  weights: { 'memory-ce': 1, 'memory-ue': 100, 'pcie-ce': 0.5, 'pcie-ue': 50, 'sel-warning': 5, 'sel-critical': 50 },
  halfLifeMs: { 'memory-ce': 24 * HOUR, 'memory-ue': 7 * 24 * HOUR, 'pcie-ce': 24 * HOUR, 'pcie-ue': 7 * 24 * HOUR, 'sel-warning': 24 * HOUR, 'sel-critical': 72 * HOUR },
  thresholdWeights: { warning: 5, critical: 50 },
  h50: 100,
  maxCount: 1_000_000_000,
};

export interface ReliabilityScore {
  /** In (0, 1]; 1 = nothing recent. */
  readonly score: number;
  readonly hazard: number;
  /** Hazard by kind now, plus "threshold" for the current sensor states. */
  readonly contributions: Readonly<Record<ReliabilityEventKind | 'threshold', number>>;
  /** The largest contributors, for logs: e.g. "memory-ue 84.1". */
  readonly reasons: readonly string[];
  readonly at: number;
}

interface Accumulator { value: number; at: number }

export class ReliabilityModel {
  /** Events refused as malformed (bad kind, count or time): the caller can expose it. */
  rejected = 0;
  private readonly acc = new Map<ReliabilityEventKind, Accumulator>();
  private thresholds: ThresholdStates = { warning: 0, critical: 0 };

  constructor(private readonly params: ReliabilityParams = defaultReliabilityParams) {}

  /** Adds one event observed at or before nowMs; returns false (and counts it) if malformed. */
  observe(ev: ReliabilityEvent, nowMs: number): boolean {
    const half = this.params.halfLifeMs[ev.kind];
    const weight = this.params.weights[ev.kind];
    if (half === undefined || weight === undefined || !Number.isFinite(ev.at) || !Number.isInteger(ev.count) || ev.count < 0 || ev.count > this.params.maxCount) {
      this.rejected++;
      return false;
    }
    if (ev.count === 0) return true;
    const at = Math.min(ev.at, nowMs);
    const a = this.acc.get(ev.kind) ?? { value: 0, at };
    // Bring the accumulator and the event to the later of the two times, then add.
    const t = Math.max(a.at, at);
    const value = a.value * decay(t - a.at, half) + weight * ev.count * decay(t - at, half);
    this.acc.set(ev.kind, { value, at: t });
    return true;
  }

  setThresholds(states: ThresholdStates): void {
    const ok = (n: number): boolean => Number.isInteger(n) && n >= 0 && n < 100_000;
    if (!ok(states.warning) || !ok(states.critical)) {
      this.rejected++;
      return;
    }
    this.thresholds = { ...states };
  }

  score(nowMs: number): ReliabilityScore {
    const contributions = {} as Record<ReliabilityEventKind | 'threshold', number>;
    let hazard = 0;
    for (const kind of ReliabilityEventKinds) {
      const a = this.acc.get(kind);
      const v = a ? a.value * decay(Math.max(0, nowMs - a.at), this.params.halfLifeMs[kind]) : 0;
      contributions[kind] = v;
      hazard += v;
    }
    const th = this.thresholds.warning * this.params.thresholdWeights.warning + this.thresholds.critical * this.params.thresholdWeights.critical;
    contributions.threshold = th;
    hazard += th;
    const reasons = Object.entries(contributions)
      .filter(([, v]) => v >= 0.01)
      .sort((x, y) => y[1] - x[1])
      .slice(0, 3)
      .map(([k, v]) => `${k} ${v.toFixed(1)}`);
    return { score: this.params.h50 / (this.params.h50 + hazard), hazard, contributions, reasons, at: nowMs };
  }
}

/** 2^(-dt/half): the fraction left after dt ms. */
function decay(dtMs: number, halfLifeMs: number): number {
  return Math.pow(2, -dtMs / halfLifeMs);
}

/**
 * How many new errors a cumulative counter (EDAC ce_count, ...) shows since the previous read.
 * A counter that went down was reset (reboot, reset_counters): its whole new value is new.
 * Undefined previous (first read) gives 0: history before we started watching is not "recent".
 */
export function counterDelta(previous: number | undefined, current: number): number {
  if (previous === undefined) return 0;
  return current >= previous ? current - previous : current;
}
