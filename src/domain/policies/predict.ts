// Shared arithmetic for the host policies: frequency ratio, predicted power after a cap change,
// the model's slope (for gain scheduling) and sensor plausibility. Pure functions.
// Units: W, kHz; ratio r = capKHz / maxKHz in (0, 1]; utilisation u in [0, 1].
import type { HostSnapshot, PowerSample } from '../model.js';

/** Without a power model: half of the measured power is taken as dynamic, scaling with r^2 at fixed work. */
const FALLBACK_DYNAMIC_SHARE = 0.5;

export function ratioOf(s: HostSnapshot, capKHz = s.frequency.capKHz): number {
  const r = capKHz / s.frequency.maxKHz;
  return Math.min(1, Math.max(1e-3, r));
}

export function clampCap(s: HostSnapshot, kHz: number): number {
  const { minKHz, maxKHz } = s.frequency;
  return Math.round(Math.min(maxKHz, Math.max(minKHz, kHz)));
}

/**
 * Host power expected if the cap moved to `capKHz`, W. The same work at a lower clock shows as a
 * higher utilisation: u' = min(1, u * r / r'). With a power model the model's difference is added
 * to the measured value (so a model offset cancels out); without one, see FALLBACK_DYNAMIC_SHARE.
 */
export function predictWatts(s: HostSnapshot, capKHz: number, measuredWatts = s.power?.watts): number {
  const r = ratioOf(s);
  const r2 = ratioOf(s, capKHz);
  const u = Math.min(1, Math.max(0, s.cpuUtil));
  const u2 = Math.min(1, (u * r) / r2);
  const model = s.powerModel;
  if (model) {
    const delta = model.watts(u2, r2) - model.watts(u, r);
    return measuredWatts === undefined ? model.watts(u2, r2) : measuredWatts + delta;
  }
  if (measuredWatts === undefined) return Number.NaN;
  // Dynamic power ~ u * r^3 (busy share times f V^2 with V ~ f).
  const dyn = measuredWatts * FALLBACK_DYNAMIC_SHARE;
  // u2 * r2^3 / (u * r^3), written so a tiny u cannot underflow to 0.
  const scale = u <= 0 ? 1 : (u * r) / r2 <= 1 ? (r2 / r) ** 2 : (r2 / r) ** 3 / u;
  return measuredWatts - dyn + dyn * scale;
}

/** dP/dr at the current operating point, W per unit of frequency ratio (>= a small floor). */
export function slopeWattsPerRatio(s: HostSnapshot): number {
  const h = 0.02;
  const r = ratioOf(s);
  const lo = Math.max(ratioOf(s, s.frequency.minKHz), r - h);
  const hi = Math.min(1, r + h);
  if (hi - lo < 1e-6) return 1;
  const pLo = predictWatts(s, lo * s.frequency.maxKHz);
  const pHi = predictWatts(s, hi * s.frequency.maxKHz);
  const slope = (pHi - pLo) / (hi - lo);
  // A host with no load has almost no slope; a floor keeps the controller's step finite.
  const span = s.powerModel ? s.powerModel.peakWatts - s.powerModel.idleWatts : (s.power?.watts ?? 0) * FALLBACK_DYNAMIC_SHARE;
  const floor = Math.max(span * 0.05, 1);
  return Number.isFinite(slope) ? Math.max(slope, floor, 1e-3) : floor;
}

/** The highest cap whose predicted power stays <= targetWatts (bisection; predicted power rises with the cap). */
export function capForWatts(s: HostSnapshot, targetWatts: number, predict = (kHz: number) => predictWatts(s, kHz)): number {
  const { minKHz, maxKHz } = s.frequency;
  if (predict(maxKHz) <= targetWatts) return maxKHz;
  if (!(predict(minKHz) <= targetWatts)) return minKHz;
  let lo = minKHz;
  let hi = maxKHz;
  for (let i = 0; i < 30 && hi - lo > 1000; i++) {
    const mid = (lo + hi) / 2;
    if (predict(mid) <= targetWatts) lo = mid;
    else hi = mid;
  }
  return Math.floor(lo / 1000) * 1000 < minKHz ? minKHz : Math.floor(lo / 1000) * 1000;
}

/** Worst case when blind: the whole host busy at the given cap (needs a model), W. */
export function worstCaseWatts(s: HostSnapshot, capKHz: number): number | undefined {
  return s.powerModel?.watts(1, ratioOf(s, capKHz));
}

export type SensorVerdict =
  | { readonly ok: true; readonly sample: PowerSample }
  | { readonly ok: false; readonly why: 'missing' | 'stale' | 'too-old' | 'implausible'; readonly sample?: PowerSample };

/**
 * Is the power reading fit to act on? Stale (re-served), older than maxAgeMs, or outside
 * [0, maxPlausibleWatts] readings are not: policies then hold or lower, never raise.
 */
export function judgeSensor(s: HostSnapshot, maxAgeMs: number, maxPlausibleWatts: number): SensorVerdict {
  const p = s.power;
  if (!p) return { ok: false, why: 'missing' };
  if (!Number.isFinite(p.watts) || p.watts < 0 || p.watts > maxPlausibleWatts) return { ok: false, why: 'implausible', sample: p };
  if (p.stale) return { ok: false, why: 'stale', sample: p };
  if (p.ageMs > maxAgeMs) return { ok: false, why: 'too-old', sample: p };
  return { ok: true, sample: p };
}

export function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
