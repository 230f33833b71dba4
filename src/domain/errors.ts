// Errors with stable codes. Adapters translate what their peer said (a D-Bus error name, an
// ipmitool exit status, an errno) into one of these at their boundary, so that policies and
// daemons never see a transport-specific error. Codes are part of the public interface: never
// renumber or rename one; add new ones.

export const ErrorCodes = {
  Unsupported: 'UNSUPPORTED',
  InvalidInput: 'INVALID_INPUT',
  Timeout: 'TIMEOUT',
  NotFound: 'NOT_FOUND',
  PermissionDenied: 'PERMISSION_DENIED',
  Unavailable: 'UNAVAILABLE',
  OutOfBounds: 'OUT_OF_BOUNDS',
  // power
  PowerSensorUnavailable: 'POWER_SENSOR_UNAVAILABLE',
  PowerReadingStale: 'POWER_READING_STALE',
  PowerCapRejected: 'POWER_CAP_REJECTED',
  BmcAuthFailed: 'BMC_AUTH_FAILED',
  BmcProtocolError: 'BMC_PROTOCOL_ERROR',
  // hypervisor
  HypervisorUnavailable: 'HYPERVISOR_UNAVAILABLE',
  VmNotFound: 'VM_NOT_FOUND',
  MigrationFailed: 'MIGRATION_FAILED',
  MigrationAborted: 'MIGRATION_ABORTED',
  VmCreateFailed: 'VM_CREATE_FAILED',
  // M-channels
  ChannelClosed: 'CHANNEL_CLOSED',
  ReplayBufferExceeded: 'REPLAY_BUFFER_EXCEEDED',
  ProtocolViolation: 'PROTOCOL_VIOLATION',
  FrameTooLarge: 'FRAME_TOO_LARGE',
  HandshakeFailed: 'HANDSHAKE_FAILED',
  PeerDead: 'PEER_DEAD',
  RequestTimeout: 'REQUEST_TIMEOUT',
  // config
  ConfigInvalid: 'CONFIG_INVALID',
  // leader HA
  NotLeader: 'NOT_LEADER',
  StaleFencingToken: 'STALE_FENCING_TOKEN',
  // certificates and join
  PkiFailed: 'PKI_FAILED',
  JoinRefused: 'JOIN_REFUSED',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class VmanageError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VmanageError';
    this.code = code;
    this.details = details;
  }

  toJSON(): { code: ErrorCode; message: string; details: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** An optional capability the adapter does not have: fail loudly, never silently do nothing. */
export class UnsupportedError extends VmanageError {
  constructor(adapter: string, capability: string) {
    super(ErrorCodes.Unsupported, `${adapter} does not support ${capability}`, { adapter, capability });
    this.name = 'UnsupportedError';
  }
}

export function isVmanageError(err: unknown, code?: ErrorCode): err is VmanageError {
  return err instanceof VmanageError && (code === undefined || err.code === code);
}
