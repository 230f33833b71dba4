// Fail-safe without a leader, and the two-period guarantee.
//
// effectiveBudget: while the leader is connected its budget is in force; when it goes away the
// host keeps the last budget for leaderTimeoutMs, then falls back to the configured safe budget
// (never above the last one: the fallback only makes things safer).
//
// The guard policy makes "measured power never stays over budget for more than 2 control
// periods" true whatever else runs (the paper's one-step DVFS alone can be too slow):
//   1st period over budget: cap at the model's prediction for budget - margin (deadbeat);
//   2nd consecutive period:  cap at the minimum frequency and the hardware limit (RAPL/DCMI)
//                            at budget - margin; that limit is enforced by firmware within ms.
// Otherwise the hardware limit is kept at the budget as a backstop (hardwareBackstop), and
// after an emergency it is put back there once power is under budget - margin.
// A reading over budget counts even when stale (worst case); a stale one under it does not
// clear the count.
import { z } from 'zod';
import type { BudgetState, Decision, HostSnapshot } from '../model.js';
import { definePolicy, type Policy } from './types.js';
import { capForWatts, predictWatts, round1 } from './predict.js';

export interface BudgetInputs {
  /** The last budget the leader gave, W (undefined: never had one). */
  readonly leaderWatts?: number;
  /** When the leader last spoke to us (ms since epoch). */
  readonly leaderContactAt?: number;
  readonly leaderConnected: boolean;
  /** A budget from the host's own config, used until a leader gives one, W. */
  readonly configWatts?: number;
}

export interface FailSafeBudgetParams {
  /** How long the last budget is kept without the leader, ms. */
  readonly leaderTimeoutMs: number;
  /** Budget used after the timeout, W. */
  readonly safeBudgetWatts: number;
}

export function effectiveBudget(inp: BudgetInputs, now: number, p: FailSafeBudgetParams): BudgetState {
  const at = inp.leaderContactAt;
  if (inp.leaderWatts === undefined) {
    return inp.configWatts !== undefined ? { watts: inp.configWatts, source: 'config' } : { watts: p.safeBudgetWatts, source: 'safe' };
  }
  const withAt = at === undefined ? {} : { leaderAt: at };
  if (inp.leaderConnected) return { watts: inp.leaderWatts, source: 'leader', ...withAt };
  if (at !== undefined && now - at < p.leaderTimeoutMs) return { watts: inp.leaderWatts, source: 'last-known', ...withAt };
  return { watts: Math.min(inp.leaderWatts, p.safeBudgetWatts), source: 'safe', ...withAt };
}

export const failSafeParams = z.object({
  marginWatts: z.number().min(0),
  /** Keep the hardware power limit at the budget when the host has one. */
  hardwareBackstop: z.boolean(),
  /** Hardware limit changes smaller than this are skipped, W. */
  limitToleranceWatts: z.number().min(0),
  maxPlausibleWatts: z.number().positive(),
}).strict();

export type FailSafeParams = z.infer<typeof failSafeParams>;

export const failSafeDefaults: FailSafeParams = { marginWatts: 4, hardwareBackstop: true, limitToleranceWatts: 1, maxPlausibleWatts: 10_000 };

export const POLICY_FAIL_SAFE = 'fail-safe';

class Guard implements Policy<FailSafeParams> {
  private over = 0;
  private emergency = false;

  decide(s: HostSnapshot, p: FailSafeParams): Decision[] {
    const w = s.power?.watts;
    const usable = w !== undefined && Number.isFinite(w) && w >= 0 && w <= p.maxPlausibleWatts;
    const target = s.budget.watts - p.marginWatts;
    if (usable && w > s.budget.watts) this.over++;
    else if (usable && !s.power?.stale) this.over = 0;
    const out: Decision[] = [];
    if (this.over === 1 && usable) {
      const cap = Math.min(s.frequency.capKHz, capForWatts(s, target));
      if (cap < s.frequency.capKHz) out.push(this.cap(s, cap, w, 'guard-first-period', `power ${round1(w)} W over budget ${s.budget.watts} W: cap predicted for ${round1(target)} W`));
    } else if (this.over >= 2 && usable) {
      this.emergency = true;
      if (s.frequency.capKHz > s.frequency.minKHz) out.push(this.cap(s, s.frequency.minKHz, w, 'guard-second-period', `power over budget ${this.over} periods in a row: minimum frequency`));
    }
    if (usable && w < target) this.emergency = false;
    const limit = this.limitDecision(s, p, target);
    if (limit) out.push(limit);
    return out;
  }

  private limitDecision(s: HostSnapshot, p: FailSafeParams, target: number): Decision | undefined {
    const knob = s.powerLimit;
    if (!knob || !p.hardwareBackstop) return undefined;
    const want = Math.min(knob.maxWatts, Math.max(knob.minWatts, this.emergency ? target : s.budget.watts));
    if (knob.watts !== null && Math.abs(knob.watts - want) <= p.limitToleranceWatts) return undefined;
    return {
      kind: 'set-power-limit', target: s.host, value: round1(want), policy: POLICY_FAIL_SAFE,
      reason: this.emergency
        ? { code: 'guard-hardware-limit', text: `power over budget ${this.over} periods: hardware limit at ${round1(want)} W` }
        : { code: 'budget-backstop', text: `hardware limit follows the ${s.budget.source} budget ${s.budget.watts} W` },
      predicted: { watts: round1(want) },
      inputs: { budgetWatts: s.budget.watts, budgetSource: s.budget.source, currentLimit: knob.watts ?? 'none' },
    };
  }

  private cap(s: HostSnapshot, cap: number, watts: number, code: string, text: string): Decision {
    const predicted = predictWatts(s, cap, watts);
    return {
      kind: 'set-frequency-cap', target: s.host, value: cap, policy: POLICY_FAIL_SAFE,
      reason: { code, text },
      predicted: Number.isFinite(predicted) ? { watts: round1(predicted), deltaWatts: round1(predicted - watts) } : {},
      inputs: { watts: round1(watts), budgetWatts: s.budget.watts, overPeriods: this.over, capKHz: s.frequency.capKHz },
    };
  }
}

export const failSafePolicy = definePolicy<FailSafeParams>({
  name: POLICY_FAIL_SAFE,
  description: 'guard: power over budget at most 2 control periods (deadbeat cap, then minimum frequency and hardware limit)',
  schema: failSafeParams,
  defaults: failSafeDefaults,
  create: () => new Guard(),
});
