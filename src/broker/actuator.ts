// The one actuator: every decision goes through here, where the safety rails (rails.ts) are
// enforced, and then to a backend (real ports, or dry-run). Returns a typed result: applied, or a
// refusal with a stable code, never an exception.
import type { Clock } from '../domain/clock.js';
import { isVmanageError } from '../domain/errors.js';
import { knobKey, type Decision, type DecisionKind } from '../domain/model.js';
import { ChangeWindow, isSafeChange, railValue, type KindRails, type RailsConfig } from './rails.js';

export type RefusalCode = 'invalid-value' | 'out-of-bounds' | 'in-flight' | 'dwell' | 'rate-limited' | 'cooldown' | 'backend-error' | 'backend-timeout';

export interface Refusal {
  readonly code: RefusalCode;
  readonly message: string;
  /** When a retry could pass the rail, ms from now. */
  readonly retryAfterMs?: number;
  /** The backend's VmanageError code for backend-error. */
  readonly errorCode?: string;
}

export type ApplyResult =
  | { readonly ok: true; readonly decision: Decision; readonly previous?: number; readonly backend: string }
  | { readonly ok: false; readonly decision: Decision; readonly refusal: Refusal };

/** Carries a decision out. Throws VmanageError (e.g. UNSUPPORTED, POWER_CAP_REJECTED) on failure. */
export interface ActuatorBackend {
  readonly name: string;
  apply(decision: Decision): Promise<void>;
}

interface KnobState {
  value?: number;
  changedAt: number;
  quietUntil: number;
  inFlight: boolean;
  readonly window: ChangeWindow;
}

export interface ActuatorOptions {
  readonly clock: Clock;
  readonly backend: ActuatorBackend;
  readonly rails: RailsConfig;
  /** A backend call slower than this is reported as backend-timeout (the knob stays in flight until it settles), ms. */
  readonly applyTimeoutMs?: number;
}

export class Actuator {
  private readonly knobs = new Map<string, KnobState>();
  private readonly kindWindows = new Map<DecisionKind, ChangeWindow>();
  private rails: RailsConfig;
  private readonly refusals = new Map<RefusalCode, number>();

  constructor(private readonly opts: ActuatorOptions) {
    this.rails = opts.rails;
  }

  get backendName(): string {
    return this.opts.backend.name;
  }

  /** Narrows one kind's bounds (e.g. from the hardware's frequency limits). */
  setBounds(kind: DecisionKind, min: number, max: number): void {
    this.rails = { ...this.rails, [kind]: { ...this.rails[kind], min, max } };
  }

  /** Refusals by code so far (for metrics). */
  refusalCounts(): Readonly<Record<string, number>> {
    return Object.fromEntries(this.refusals);
  }

  /** The value this actuator last set on a knob, if any. */
  lastValue(kind: DecisionKind, target: string): number | undefined {
    return this.knobs.get(knobKey({ kind, target }))?.value;
  }

  /** Forgets idle knobs whose rails can no longer matter (keeps memory bounded as VMs come and go). */
  prune(): void {
    const now = this.opts.clock.now();
    for (const [key, st] of this.knobs) {
      const kind = key.slice(0, key.indexOf(':')) as DecisionKind;
      const r = this.rails[kind];
      if (!st.inFlight && now >= st.quietUntil && now - st.changedAt > Math.max(r.windowMs, r.dwellMs) && st.window.count(now, r.windowMs) === 0 && kind !== 'set-frequency-cap' && kind !== 'set-power-limit') this.knobs.delete(key);
    }
  }

  async apply(d: Decision): Promise<ApplyResult> {
    const rails = this.rails[d.kind];
    const key = knobKey(d);
    const st = this.knobs.get(key) ?? { changedAt: Number.NEGATIVE_INFINITY, quietUntil: Number.NEGATIVE_INFINITY, inFlight: false, window: new ChangeWindow() };
    this.knobs.set(key, st);
    const now = this.opts.clock.now();
    const refusal = this.check(d, rails, st, now);
    if (refusal) return this.refuse(d, refusal);
    st.inFlight = true;
    const call = this.opts.backend.apply(d);
    try {
      await this.withTimeout(call);
    } catch (err) {
      const timedOut = err === TIMEOUT;
      if (!timedOut) st.inFlight = false;
      else call.then(() => { st.inFlight = false; }, () => { st.inFlight = false; });
      st.quietUntil = now + rails.failureCooldownMs;
      return this.refuse(d, timedOut
        ? { code: 'backend-timeout', message: `${this.opts.backend.name} did not answer within ${this.opts.applyTimeoutMs} ms` }
        : { code: 'backend-error', message: err instanceof Error ? err.message : String(err), ...(isVmanageError(err) ? { errorCode: err.code } : {}) });
    }
    st.inFlight = false;
    const previous = st.value;
    const safe = isSafeChange(rails, d.kind, previous, d.value);
    st.value = d.value;
    st.changedAt = now;
    if (rails.cooldownMs > 0) st.quietUntil = now + rails.cooldownMs;
    if (!safe) {
      st.window.record(now, rails.maxChanges);
      this.kindWindow(d.kind).record(now, Number.isFinite(rails.kindMaxChanges) ? rails.kindMaxChanges : 1);
    }
    return { ok: true, decision: d, backend: this.opts.backend.name, ...(previous === undefined ? {} : { previous }) };
  }

  private check(d: Decision, rails: KindRails, st: KnobState, now: number): Refusal | undefined {
    if (!Number.isFinite(d.value) && !(d.kind === 'set-vm-quota' && d.value === -1)) return { code: 'invalid-value', message: `${d.kind} value ${d.value} is not a finite number` };
    const v = railValue(d.kind, d.value);
    if (d.kind === 'set-vm-quota' && d.value < 0 && d.value !== -1) return { code: 'invalid-value', message: `quota ${d.value}: expected -1 (unlimited) or >= 0 µs` };
    if (v < rails.min || v > rails.max) return { code: 'out-of-bounds', message: `${d.kind} ${d.value} outside [${rails.min}, ${rails.max}]` };
    if (st.inFlight) return { code: 'in-flight', message: `a change of ${knobKey(d)} is still in flight` };
    if (now < st.quietUntil) return { code: 'cooldown', message: `${knobKey(d)} cooling down`, retryAfterMs: st.quietUntil - now };
    if (isSafeChange(rails, d.kind, st.value, d.value)) return undefined;
    if (now - st.changedAt < rails.dwellMs) return { code: 'dwell', message: `${knobKey(d)} changed ${now - st.changedAt} ms ago (dwell ${rails.dwellMs} ms)`, retryAfterMs: st.changedAt + rails.dwellMs - now };
    if (st.window.count(now, rails.windowMs) >= rails.maxChanges) return { code: 'rate-limited', message: `${knobKey(d)}: ${rails.maxChanges} changes in ${rails.windowMs} ms already` };
    if (this.kindWindow(d.kind).count(now, rails.windowMs) >= rails.kindMaxChanges) return { code: 'rate-limited', message: `${d.kind}: ${rails.kindMaxChanges} changes across all targets in ${rails.windowMs} ms already` };
    return undefined;
  }

  private kindWindow(kind: DecisionKind): ChangeWindow {
    let w = this.kindWindows.get(kind);
    if (!w) this.kindWindows.set(kind, (w = new ChangeWindow()));
    return w;
  }

  private refuse(d: Decision, refusal: Refusal): ApplyResult {
    this.refusals.set(refusal.code, (this.refusals.get(refusal.code) ?? 0) + 1);
    return { ok: false, decision: d, refusal };
  }

  private withTimeout(p: Promise<void>): Promise<void> {
    const ms = this.opts.applyTimeoutMs;
    if (ms === undefined) return p;
    return new Promise<void>((resolve, reject) => {
      const timer = this.opts.clock.setTimer(ms, () => reject(TIMEOUT));
      p.then(() => { timer.cancel(); resolve(); }, (err: unknown) => { timer.cancel(); reject(err); });
    });
  }
}

const TIMEOUT = Symbol('timeout');
