// Budget enforcement: a feedback controller that keeps measured host power under the budget by
// moving the CPU frequency cap (docs/policies.md has the step responses).
//
// Control law (velocity form, one step per control period):
//   e_k   = (budget - margin) - P_k                       error, W (positive = room)
//   Δr_k  = (ki * e_k + kp * (e_k - e_{k-1})) / slope_k   change of frequency ratio
//   cap   = applied cap + Δr_k * maxKHz, clamped to [minKHz, maxKHz]
// slope_k = dP/dr from the power model at the current operating point (gain scheduling), so the
// loop gain is ~ki whatever the load. The base is the cap actually in force, not an internal
// integrator, so nothing winds up while another policy or a rail holds the cap (anti-windup).
// Over the budget the controller is deadbeat: it jumps to the cap the model predicts to land
// on the setpoint, then the PI law trims the model error. Under the budget the PI law works on
// an exponentially filtered reading (filterAlpha), so sensor noise does not dither the cap;
// raising is conservative: it uses the highest of the filtered value and the last
// `raiseOnMaxOf` raw readings (one low outlier cannot raise the cap) and never raises past a
// predicted setpoint crossing.
// With `raise: false` the controller only ever lowers (a ceiling), leaving raises to sla-dvfs:
// run it that way beside sla-dvfs, or the two fight (sla-dvfs relaxes, this raises back).
// A stale, old or implausible reading never raises; after `blindLowerAfterMs` blind, the cap
// goes to what keeps a fully busy host under the budget (worst case).
import { z } from 'zod';
import type { Decision, HostSnapshot } from '../model.js';
import { definePolicy, type Policy } from './types.js';
import { capForWatts, clampCap, judgeSensor, predictWatts, ratioOf, round1, slopeWattsPerRatio, worstCaseWatts } from './predict.js';

export const budgetParams = z.object({
  /** Raise the cap when under the setpoint (power capping); false: only lower (beside sla-dvfs). */
  raise: z.boolean(),
  /** Setpoint distance under the budget, W. */
  marginWatts: z.number().min(0).max(1000),
  /** No change while |error| is below this and power is under budget, W. */
  deadbandWatts: z.number().min(0).max(1000),
  /** Integral gain, fraction of the error corrected per period (0..1]. */
  ki: z.number().gt(0).max(1),
  /** Proportional gain on the change of error (velocity form). */
  kp: z.number().min(0).max(1),
  /** Weight of the newest reading in the filtered power (1 = no filter). */
  filterAlpha: z.number().gt(0).max(1),
  /** Raises are judged on the highest of this many last readings. */
  raiseOnMaxOf: z.number().int().min(1).max(20),
  /** Largest raise per period, fraction of maxKHz. */
  maxRaiseFraction: z.number().gt(0).max(1),
  /** A reading older than this is not acted on, ms. */
  maxAgeMs: z.number().int().positive(),
  /** Readings above this are sensor garbage, W. */
  maxPlausibleWatts: z.number().positive(),
  /** Blind (no usable reading) this long: lower to the worst-case-safe cap, ms. */
  blindLowerAfterMs: z.number().int().nonnegative(),
}).strict();

export type BudgetParams = z.infer<typeof budgetParams>;

export const budgetDefaults: BudgetParams = {
  raise: true,
  marginWatts: 4,
  deadbandWatts: 2,
  ki: 0.5,
  kp: 0.1,
  filterAlpha: 0.5,
  raiseOnMaxOf: 3,
  maxRaiseFraction: 0.15,
  maxAgeMs: 3000,
  maxPlausibleWatts: 10_000,
  blindLowerAfterMs: 10_000,
};

export const POLICY_BUDGET = 'budget';

class BudgetController implements Policy<BudgetParams> {
  private prevError: number | undefined;
  private filtered: number | undefined;
  private recent: number[] = [];
  private blindSince: number | undefined;

  decide(s: HostSnapshot, p: BudgetParams, clock: { now(): number }): Decision[] {
    const verdict = judgeSensor(s, p.maxAgeMs, p.maxPlausibleWatts);
    if (!verdict.ok) {
      this.prevError = undefined;
      this.filtered = undefined;
      this.recent = [];
      this.blindSince ??= clock.now();
      return this.blind(s, p, verdict.why, clock.now() - this.blindSince);
    }
    this.blindSince = undefined;
    const watts = verdict.sample.watts;
    const setpoint = s.budget.watts - p.marginWatts;
    if (watts > s.budget.watts) {
      // The jump changes the operating point: the filter restarts from the next reading.
      this.filtered = undefined;
      this.prevError = undefined;
      this.recent = [];
      return this.deadbeat(s, p, watts, setpoint);
    }
    const filtered = this.filtered === undefined ? watts : p.filterAlpha * watts + (1 - p.filterAlpha) * this.filtered;
    this.filtered = filtered;
    const ef = setpoint - filtered;
    const prev = this.prevError;
    this.prevError = ef;
    this.recent.push(watts);
    if (this.recent.length > p.raiseOnMaxOf) this.recent.splice(0, this.recent.length - p.raiseOnMaxOf);
    const conservative = Math.max(filtered, ...this.recent);
    const e = ef > 0 ? setpoint - conservative : ef;
    if (Math.abs(e) < p.deadbandWatts || (ef > 0 && (e <= 0 || !p.raise))) return [];
    const dr = (p.ki * e + p.kp * (ef - (prev ?? ef))) / slopeWattsPerRatio(s);
    const maxRaise = p.maxRaiseFraction * s.frequency.maxKHz;
    let cap = clampCap(s, s.frequency.capKHz + Math.min(dr * s.frequency.maxKHz, maxRaise));
    if (cap > s.frequency.capKHz && predictWatts(s, cap, conservative) > setpoint) {
      cap = Math.max(s.frequency.capKHz, capForWatts(s, setpoint, (k) => predictWatts(s, k, conservative)));
    }
    if (cap === s.frequency.capKHz) return [];
    const up = cap > s.frequency.capKHz;
    return [this.decision(s, cap, watts, up ? 'under-setpoint' : 'over-setpoint',
      up ? `power ${round1(watts)} W under setpoint ${round1(setpoint)} W: raise cap` : `power ${round1(watts)} W over setpoint ${round1(setpoint)} W: lower cap`,
      { errorWatts: round1(e), ratio: round1(ratioOf(s) * 100) / 100 })];
  }

  private deadbeat(s: HostSnapshot, p: BudgetParams, watts: number, setpoint: number): Decision[] {
    const cap = Math.min(s.frequency.capKHz, capForWatts(s, setpoint));
    if (cap >= s.frequency.capKHz) return [];
    return [this.decision(s, cap, watts, 'budget-exceeded',
      `power ${round1(watts)} W over budget ${round1(s.budget.watts)} W: jump to the cap predicted to reach ${round1(setpoint)} W`,
      { marginWatts: p.marginWatts })];
  }

  private blind(s: HostSnapshot, p: BudgetParams, why: string, blindMs: number): Decision[] {
    if (blindMs < p.blindLowerAfterMs) return [];
    const worst = (kHz: number) => worstCaseWatts(s, kHz) ?? Number.POSITIVE_INFINITY;
    const cap = Math.min(s.frequency.capKHz, capForWatts(s, s.budget.watts - p.marginWatts, worst));
    if (cap >= s.frequency.capKHz) return [];
    return [{
      kind: 'set-frequency-cap', target: s.host, value: cap, policy: POLICY_BUDGET,
      reason: { code: 'sensor-blind', text: `power reading ${why} for ${blindMs} ms: cap for a fully busy host under budget` },
      predicted: { watts: round1(worst(cap)) },
      inputs: { budgetWatts: s.budget.watts, sensor: why, blindMs },
    }];
  }

  private decision(s: HostSnapshot, cap: number, watts: number, code: string, text: string, extra: Record<string, number>): Decision {
    const predicted = predictWatts(s, cap, watts);
    return {
      kind: 'set-frequency-cap', target: s.host, value: cap, policy: POLICY_BUDGET,
      reason: { code, text },
      predicted: { watts: round1(predicted), deltaWatts: round1(predicted - watts) },
      inputs: { watts: round1(watts), budgetWatts: s.budget.watts, capKHz: s.frequency.capKHz, ...extra },
    };
  }
}

export const budgetPolicy = definePolicy<BudgetParams>({
  name: POLICY_BUDGET,
  description: 'PI controller on the frequency cap keeping measured power under the host budget',
  schema: budgetParams,
  defaults: budgetDefaults,
  create: () => new BudgetController(),
});
