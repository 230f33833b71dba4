// Opening a xenstore connection: dom0 talks to xenstored over its unix socket; a guest talks
// through its kernel's xenbus character device, which carries the same xs_wire framing.
import { open as openFd, close as closeFd, createReadStream, createWriteStream } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { Duplex } from 'node:stream';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import { XenstoreClient, type XenstoreClientOptions } from './client.js';
import { HEADER_BYTES, PAYLOAD_MAX } from './wire.js';

/** xenstored's socket: $XENSTORED_PATH, else $XENSTORED_RUNDIR/socket, else /var/run/xenstored/socket (as libxenstore does). */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env['XENSTORED_PATH']) return env['XENSTORED_PATH'];
  return `${env['XENSTORED_RUNDIR'] ?? '/var/run/xenstored'}/socket`;
}

export const DEFAULT_XENBUS_DEVICE = '/dev/xen/xenbus';

/** dom0 side: connects to xenstored's unix socket. */
export async function connectXenstoreSocket(path = defaultSocketPath(), opts: XenstoreClientOptions = {}): Promise<XenstoreClient> {
  const sock = netConnect(path);
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', (err: NodeJS.ErrnoException) => {
      reject(new VmanageError(ErrorCodes.Unavailable, `cannot connect to xenstored at ${path}: ${err.code ?? err.message}`, { path }, { cause: err }));
    });
  });
  return new XenstoreClient(sock, path, opts);
}

/**
 * Guest side: opens the xenbus character device (or anything that behaves like one, such as a
 * pty in tests). Limitation: a read blocked in the kernel holds one libuv thread-pool thread
 * until data arrives or the device goes away; the device is closed when the client closes.
 */
export async function openXenbus(device = DEFAULT_XENBUS_DEVICE, opts: XenstoreClientOptions = {}): Promise<XenstoreClient> {
  const fd = await new Promise<number>((resolve, reject) => {
    openFd(device, 'r+', (err, fd) => {
      if (err) reject(new VmanageError(ErrorCodes.Unavailable, `cannot open xenbus device ${device}: ${err.code ?? err.message}`, { device }, { cause: err }));
      else resolve(fd);
    });
  });
  const readable = createReadStream('', { fd, autoClose: false, highWaterMark: HEADER_BYTES + PAYLOAD_MAX });
  const writable = createWriteStream('', { fd, autoClose: false });
  const duplex = Duplex.from({ readable, writable });
  let closed = false;
  const closeOnce = (): void => {
    if (closed) return;
    closed = true;
    readable.destroy();
    writable.destroy();
    closeFd(fd, () => undefined);
  };
  duplex.once('close', closeOnce);
  const client = new XenstoreClient(duplex, device, opts);
  client.onClose(closeOnce);
  return client;
}
