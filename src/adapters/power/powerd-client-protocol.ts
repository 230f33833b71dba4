// The org.vmanage.Power1 D-Bus contract shared by vmanage-powerd and its client: names, error
// names and the GetState document (JSON, validated on the client side like any untrusted input).
// Units: kHz, watts, ms since the epoch.
import type { MessageBus } from 'dbus-next';
import { z } from 'zod';
import { ErrorCodes, type ErrorCode } from '../../domain/errors.js';
import type { CpuFrequencyState, PowerLimitState, PowerReading } from '../../domain/ports/power.js';

export const POWER1_NAME = 'org.vmanage.Power1';
export const POWER1_PATH = '/org/vmanage/Power1';
export const POWER1_IFACE = 'org.vmanage.Power1';

/** D-Bus error names of the service, and the VmanageError code each one maps to (both ways). */
export const POWER1_ERRORS = {
  AccessDenied: `${POWER1_IFACE}.Error.AccessDenied`,
  OutOfBounds: `${POWER1_IFACE}.Error.OutOfBounds`,
  InvalidArgument: `${POWER1_IFACE}.Error.InvalidArgument`,
  Unsupported: `${POWER1_IFACE}.Error.Unsupported`,
  NotFound: `${POWER1_IFACE}.Error.NotFound`,
  CapRejected: `${POWER1_IFACE}.Error.CapRejected`,
  Unavailable: `${POWER1_IFACE}.Error.Unavailable`,
  SensorUnavailable: `${POWER1_IFACE}.Error.SensorUnavailable`,
  PermissionDenied: `${POWER1_IFACE}.Error.PermissionDenied`,
  Failed: `${POWER1_IFACE}.Error.Failed`,
} as const;

const CODE_TO_ERROR: Partial<Record<ErrorCode, string>> = {
  [ErrorCodes.OutOfBounds]: POWER1_ERRORS.OutOfBounds,
  [ErrorCodes.InvalidInput]: POWER1_ERRORS.InvalidArgument,
  [ErrorCodes.Unsupported]: POWER1_ERRORS.Unsupported,
  [ErrorCodes.NotFound]: POWER1_ERRORS.NotFound,
  [ErrorCodes.PowerCapRejected]: POWER1_ERRORS.CapRejected,
  [ErrorCodes.Unavailable]: POWER1_ERRORS.Unavailable,
  [ErrorCodes.PowerSensorUnavailable]: POWER1_ERRORS.SensorUnavailable,
  [ErrorCodes.PermissionDenied]: POWER1_ERRORS.PermissionDenied,
};

export function dbusErrorNameFor(code: ErrorCode): string {
  return CODE_TO_ERROR[code] ?? POWER1_ERRORS.Failed;
}

/** The caller was refused is PERMISSION_DENIED on the client side too. */
export function codeForDbusError(name: string): ErrorCode {
  if (name === POWER1_ERRORS.AccessDenied || name === 'org.freedesktop.DBus.Error.AccessDenied') return ErrorCodes.PermissionDenied;
  if (name === 'org.freedesktop.DBus.Error.ServiceUnknown' || name === 'org.freedesktop.DBus.Error.NameHasNoOwner') return ErrorCodes.Unavailable;
  if (name === 'org.freedesktop.DBus.Error.NoReply' || name === 'org.freedesktop.DBus.Error.Timeout') return ErrorCodes.Timeout;
  if (name === 'org.freedesktop.DBus.Error.UnknownMethod' || name === 'org.freedesktop.DBus.Error.InvalidArgs') return ErrorCodes.InvalidInput;
  for (const [code, errName] of Object.entries(CODE_TO_ERROR)) if (errName === name) return code as ErrorCode;
  return ErrorCodes.Unavailable;
}

const Uint = z.number().int().nonnegative();

export const CpuFrequencyStateSchema = z.object({
  policy: z.string().max(64),
  cpus: z.array(Uint).max(65536),
  curKHz: Uint,
  scalingMinKHz: Uint,
  scalingMaxKHz: Uint,
  governor: z.string().max(64),
  epp: z.string().max(64).optional(),
  limits: z.object({
    minKHz: Uint,
    maxKHz: Uint,
    availableKHz: z.array(Uint).max(1024).optional(),
    governors: z.array(z.string().max(64)).max(64),
    epp: z.array(z.string().max(64)).max(64).optional(),
  }),
});

export const PowerLimitStateSchema = z.object({
  source: z.string().max(128),
  limitWatts: z.number().nullable(),
  minWatts: z.number().optional(),
  maxWatts: z.number().optional(),
});

export const PowerReadingSchema = z.object({
  watts: z.number(),
  timestamp: z.number(),
  source: z.string().max(256),
  ageMs: z.number(),
  stale: z.boolean(),
});

/** GetState() returns this, as JSON. */
export const PowerdStateSchema = z.object({
  /** null when the host has no frequency actuator configured. */
  frequency: z.object({
    /** The cap powerd set (kHz), null when none. */
    capKHz: Uint.nullable(),
    policies: z.array(CpuFrequencyStateSchema).max(4096),
  }).nullable(),
  powerLimits: z.array(PowerLimitStateSchema).max(64),
  /** The last reading (stale: true, with its age), null before the first one. */
  reading: PowerReadingSchema.nullable(),
  readingError: z.string().max(1024).nullable(),
});

export interface PowerdState {
  readonly frequency: { readonly capKHz: number | null; readonly policies: readonly CpuFrequencyState[] } | null;
  readonly powerLimits: readonly PowerLimitState[];
  readonly reading: PowerReading | null;
  readonly readingError: string | null;
}

/** Parses GetState's answer: untrusted JSON from the bus. */
export function parsePowerdState(json: string): PowerdState {
  return PowerdStateSchema.parse(JSON.parse(json));
}

/**
 * Disconnects a dbus-next bus safely. On unix:path addresses dbus-next uses the native usocket
 * module, which crashes the whole process (SIGSEGV, measured) when a connection is closed before
 * its handshake finished: wait for 'connect' (or an error, or waitMs) first.
 */
export async function disconnectBus(bus: MessageBus, waitMs = 2000): Promise<void> {
  if (!(bus as { name?: string | null }).name) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      const done = (): void => { clearTimeout(timer); resolve(); };
      bus.once('connect', done);
      bus.once('error', done);
    });
  }
  bus.disconnect();
}
