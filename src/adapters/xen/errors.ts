// Translation of xenstored's ERROR replies (errno names as strings) into VmanageError codes at
// the adapter boundary. The errno name stays in details.errno so that callers that care (the
// transaction retry loop looks for EAGAIN) can still tell them apart.
import { ErrorCodes, VmanageError, type ErrorCode } from '../../domain/errors.js';
import { XS_ERRNO_NAMES } from './wire.js';

const codeByErrno: Readonly<Record<(typeof XS_ERRNO_NAMES)[number], ErrorCode>> = {
  EINVAL: ErrorCodes.InvalidInput,
  EACCES: ErrorCodes.PermissionDenied,
  EPERM: ErrorCodes.PermissionDenied,
  EROFS: ErrorCodes.PermissionDenied,
  EEXIST: ErrorCodes.InvalidInput,
  EISDIR: ErrorCodes.InvalidInput,
  ENOTEMPTY: ErrorCodes.InvalidInput,
  EISCONN: ErrorCodes.InvalidInput,
  ENOENT: ErrorCodes.NotFound,
  ENOMEM: ErrorCodes.OutOfBounds,
  ENOSPC: ErrorCodes.OutOfBounds,
  E2BIG: ErrorCodes.FrameTooLarge,
  EIO: ErrorCodes.Unavailable,
  EBUSY: ErrorCodes.Unavailable,
  EAGAIN: ErrorCodes.Unavailable,
  ENOSYS: ErrorCodes.Unsupported,
};

export function isXsErrno(name: string): name is (typeof XS_ERRNO_NAMES)[number] {
  return (XS_ERRNO_NAMES as readonly string[]).includes(name);
}

/** The error for an ERROR reply `errno` to request `op` on `path` (path may be empty). */
export function xenstoreError(errno: string, op: string, path: string): VmanageError {
  if (!isXsErrno(errno)) {
    return new VmanageError(ErrorCodes.ProtocolViolation, `xenstored answered ${op} ${path} with an unknown error ${JSON.stringify(errno.slice(0, 64))}; expected an errno name from xs_wire.h`, { op, path, errno: errno.slice(0, 64) });
  }
  return new VmanageError(codeByErrno[errno], `xenstore ${op} ${path}: ${errno}`, { op, path, errno });
}

export function isErrno(err: unknown, errno: string): boolean {
  return err instanceof VmanageError && err.details['errno'] === errno;
}
