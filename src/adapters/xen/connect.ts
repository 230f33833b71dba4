// Opening a xenstore connection: dom0 talks to xenstored over its unix socket; a guest talks
// through its kernel's xenbus character device, which carries the same xs_wire framing.
import { open as openFd, close as closeFd, createReadStream, write as fsWrite } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { Duplex, Writable } from 'node:stream';
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

/** One write(2) on fd: (fd, buffer, offset, length, callback(err, bytesWritten)). */
export type FdWrite = (fd: number, buf: Buffer, offset: number, length: number, cb: (err: NodeJS.ErrnoException | null, written: number) => void) => void;

/**
 * Writes each chunk (one xs_wire message) with its own write(2) calls, never merging two chunks
 * into one call: Linux's xenbus device acts on the first complete message in a write and drops
 * whatever follows it in the same write, so Node's usual writev batching would lose messages.
 */
export class MessageWriter extends Writable {
  constructor(private readonly fd: number, private readonly writeFn: FdWrite = fsWrite) {
    super({ decodeStrings: true });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const step = (offset: number): void => {
      if (offset >= chunk.length) { cb(); return; }
      this.writeFn(this.fd, chunk, offset, chunk.length - offset, (err, n) => (err ? cb(err) : step(offset + n)));
    };
    step(0);
  }
}

/**
 * Guest side: opens the xenbus character device (or anything that behaves like one, such as a
 * pty in tests). Requests are limited to one page including the header, as the Linux driver
 * buffers one page per message. Limitation: a read blocked in the kernel holds one libuv
 * thread-pool thread until data arrives or the device goes away; the device is closed when the
 * client closes.
 */
export async function openXenbus(device = DEFAULT_XENBUS_DEVICE, opts: XenstoreClientOptions = {}): Promise<XenstoreClient> {
  const fd = await new Promise<number>((resolve, reject) => {
    openFd(device, 'r+', (err, fd) => {
      if (err) reject(new VmanageError(ErrorCodes.Unavailable, `cannot open xenbus device ${device}: ${err.code ?? err.message}`, { device }, { cause: err }));
      else resolve(fd);
    });
  });
  const readable = createReadStream('', { fd, autoClose: false, highWaterMark: HEADER_BYTES + PAYLOAD_MAX });
  const writable = new MessageWriter(fd);
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
  const client = new XenstoreClient(duplex, device, { maxRequestPayload: PAYLOAD_MAX - HEADER_BYTES, ...opts });
  client.onClose(closeOnce);
  return client;
}
