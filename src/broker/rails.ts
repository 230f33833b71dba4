// Safety rails, per knob (one decision kind on one target). Units: ms, and each kind's value unit
// (see DecisionKind in src/domain/model.ts).
//
// - bounds: a value outside [min, max] is refused (never clamped silently);
// - dwell: a knob changed less than dwellMs ago is not changed again in its unsafe direction;
// - rate: at most maxChanges unsafe-direction changes per knob per windowMs, and at most
//   kindMaxChanges for the whole kind per windowMs (e.g. migration requests across all VMs);
// - cooldown: after a change of a kind with cooldownMs (e.g. a migration request) or after a
//   failed change, the knob takes nothing for that long;
// - one change in flight per knob (in the actuator).
// The safe direction (lower cap, lower power limit, smaller quota) passes dwell and rate rails, so
// nothing can hold the host over its budget; bounds, cooldown and in-flight still apply.
import type { DecisionKind } from '../domain/model.js';

export interface KindRails {
  readonly min: number;
  readonly max: number;
  readonly dwellMs: number;
  readonly windowMs: number;
  readonly maxChanges: number;
  /** Limit over every target of this kind in windowMs; Infinity: none. */
  readonly kindMaxChanges: number;
  /** Quiet time after each successful change, ms (0: none). */
  readonly cooldownMs: number;
  /** Quiet time after a failed change, ms. */
  readonly failureCooldownMs: number;
  /** 'down': lowering is the safe direction; 'none': every change is rate limited. */
  readonly safeDirection: 'down' | 'none';
}

export type RailsConfig = Readonly<Record<DecisionKind, KindRails>>;

const common = { windowMs: 60_000, kindMaxChanges: Number.POSITIVE_INFINITY, cooldownMs: 0, failureCooldownMs: 5_000 };

/** Defaults for a host; the daemon narrows frequency and power-limit bounds from the hardware. */
export function defaultRails(): RailsConfig {
  return {
    'set-frequency-cap': { ...common, min: 100_000, max: 10_000_000, dwellMs: 2_000, maxChanges: 20, safeDirection: 'down' },
    'set-power-limit': { ...common, min: 10, max: 100_000, dwellMs: 5_000, maxChanges: 10, safeDirection: 'down' },
    'set-vm-shares': { ...common, min: 2, max: 262_144, dwellMs: 10_000, maxChanges: 6, safeDirection: 'none' },
    // Quota -1 (unlimited) counts as +Infinity for bounds and direction.
    'set-vm-quota': { ...common, min: 1_000, max: Number.POSITIVE_INFINITY, dwellMs: 10_000, maxChanges: 6, safeDirection: 'down' },
    'request-migration': { ...common, min: 0, max: 100_000, dwellMs: 0, maxChanges: 1, kindMaxChanges: 2, cooldownMs: 300_000, failureCooldownMs: 60_000, safeDirection: 'none' },
  };
}

export function withRails(base: RailsConfig, overrides: Partial<Record<DecisionKind, Partial<KindRails>>>): RailsConfig {
  const out = { ...base } as Record<DecisionKind, KindRails>;
  for (const [kind, o] of Object.entries(overrides) as [DecisionKind, Partial<KindRails>][]) out[kind] = { ...base[kind], ...o };
  return out;
}

/** The value as the rails compare it (quota -1 = unlimited = +Infinity). */
export function railValue(kind: DecisionKind, value: number): number {
  return kind === 'set-vm-quota' && value < 0 ? Number.POSITIVE_INFINITY : value;
}

/** True when moving from `from` to `to` is the safe direction for this kind. */
export function isSafeChange(rails: KindRails, kind: DecisionKind, from: number | undefined, to: number): boolean {
  if (rails.safeDirection !== 'down' || from === undefined) return false;
  return railValue(kind, to) <= railValue(kind, from);
}

/** A sliding window of change times, bounded by its limit. */
export class ChangeWindow {
  private times: number[] = [];

  count(now: number, windowMs: number): number {
    this.times = this.times.filter((t) => t > now - windowMs);
    return this.times.length;
  }

  record(now: number, keep: number): void {
    this.times.push(now);
    if (this.times.length > keep) this.times.splice(0, this.times.length - keep);
  }
}
