// Translation of what libvirt-dbus said into VmanageError codes, at the adapter boundary.
// libvirt-dbus reports every libvirt failure as org.libvirt.Error with libvirt's message text
// (virGetLastErrorMessage) and no numeric code, so the message's stable prefixes (libvirt's
// virErrorMsg strings for VIR_ERR_NO_DOMAIN, VIR_ERR_NO_SUPPORT, ...) select the code.
import { ErrorCodes, VmanageError, type ErrorCode } from '../../domain/errors.js';
import { DbusCallError, LocalErrors } from './dbus-client.js';

const byMessage: ReadonlyArray<readonly [RegExp, ErrorCode]> = [
  [/^Domain not found|no domain with matching/i, ErrorCodes.VmNotFound],
  [/^this function is not supported|^argument unsupported|^unsupported flags|^unsupported configuration|^Operation not supported/i, ErrorCodes.Unsupported],
  [/^invalid argument|^XML error|^Requested operation is not valid/i, ErrorCodes.InvalidInput],
  [/^access denied|^authentication failed|^Permission denied/i, ErrorCodes.PermissionDenied],
  [/^operation aborted/i, ErrorCodes.MigrationAborted],
  [/^Timed out|^Timeout/i, ErrorCodes.Timeout],
  [/client socket is closed|Cannot recv data|End of file while reading|Failed to connect socket|no connection driver available|Broken pipe/i, ErrorCodes.HypervisorUnavailable],
];

const byName: Readonly<Record<string, ErrorCode>> = {
  [LocalErrors.Timeout]: ErrorCodes.HypervisorUnavailable,
  [LocalErrors.NotConnected]: ErrorCodes.HypervisorUnavailable,
  'org.freedesktop.DBus.Error.ServiceUnknown': ErrorCodes.HypervisorUnavailable,
  'org.freedesktop.DBus.Error.NameHasNoOwner': ErrorCodes.HypervisorUnavailable,
  'org.freedesktop.DBus.Error.NoReply': ErrorCodes.HypervisorUnavailable,
  'org.freedesktop.DBus.Error.Disconnected': ErrorCodes.HypervisorUnavailable,
  'org.freedesktop.DBus.Error.AccessDenied': ErrorCodes.PermissionDenied,
  'org.freedesktop.DBus.Error.UnknownObject': ErrorCodes.VmNotFound,
  'org.freedesktop.DBus.Error.UnknownMethod': ErrorCodes.Unsupported,
  'org.freedesktop.DBus.Error.InvalidArgs': ErrorCodes.InvalidInput,
};

export interface ErrorContext {
  readonly op: string;
  readonly uuid?: string;
  /** Code to use when nothing more specific matches (e.g. MIGRATION_FAILED inside migrate). */
  readonly fallback?: ErrorCode;
}

/** Maps any error from a libvirt-dbus call to a VmanageError; VmanageErrors pass through. */
export function translate(err: unknown, ctx: ErrorContext): VmanageError {
  if (err instanceof VmanageError) return err;
  const name = err instanceof DbusCallError ? err.errorName : 'unknown';
  const message = err instanceof Error ? err.message : String(err);
  let code: ErrorCode | undefined = byName[name];
  if (!code && name === 'org.libvirt.Error') code = byMessage.find(([re]) => re.test(message))?.[1];
  code ??= ctx.fallback ?? ErrorCodes.HypervisorUnavailable;
  const details: Record<string, unknown> = { op: ctx.op, dbusError: name, libvirtMessage: message };
  if (ctx.uuid) details['uuid'] = ctx.uuid;
  return new VmanageError(code, `libvirt ${ctx.op}${ctx.uuid ? ` (VM ${ctx.uuid})` : ''}: ${message}`, details, { cause: err });
}
