// Helpers for dbus-next values: variants ({signature, value}), 64-bit integers as BigInt.
import dbus from 'dbus-next';

/** Unwraps a dbus-next Variant (or returns the value itself). */
export function unwrap(v: unknown): unknown {
  return v instanceof dbus.Variant ? v.value : v;
}

/** A finite number from a D-Bus integer (number or BigInt), or undefined. */
export function num(v: unknown): number | undefined {
  const x = unwrap(v);
  if (typeof x === 'bigint') return Number(x);
  if (typeof x === 'number' && Number.isFinite(x)) return x;
  return undefined;
}

/** a{sv} -> plain record of unwrapped values. */
export function record(v: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!v || typeof v !== 'object') return out;
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) out[k] = unwrap(val);
  return out;
}

export function variant(signature: string, value: unknown): InstanceType<typeof dbus.Variant> {
  return new dbus.Variant(signature, value);
}
