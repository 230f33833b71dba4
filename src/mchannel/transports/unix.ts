// Unix domain socket transport (hooks and local tools to the host daemon; a host daemon to a VM's
// virtio-serial channel socket). Node cannot read SO_PEERCRED, so the peer identity is the socket
// path plus an optional label the listener's owner gives (e.g. the VM's UUID).
import { chmodSync, existsSync, lstatSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import type { Connection, Connector, Listener, PeerIdentity } from '../types.js';

export function unixConnector(path: string, opts: { label?: string } = {}): Connector {
  const peer: PeerIdentity = { transport: 'unix', id: opts.label ?? path, details: { path } };
  return {
    kind: 'unix',
    target: path,
    connect: (signal) => new Promise<Connection>((resolve, reject) => {
      const sock = connect({ path });
      const fail = (err: Error): void => {
        sock.destroy();
        reject(new VmanageError(ErrorCodes.Unavailable, `cannot connect to ${path}: ${err.message}`, { path }, { cause: err }));
      };
      const onAbort = (): void => fail(new Error('connect aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      sock.once('error', fail);
      sock.once('connect', () => {
        signal?.removeEventListener('abort', onAbort);
        sock.off('error', fail);
        sock.on('error', ignore); // the channel's own listener reports errors; never crash on one
        tune(sock);
        resolve({ stream: sock, peer });
      });
    }),
  };
}

export interface UnixListenerOptions {
  /** Identity given to every peer of this socket (default: the socket path). */
  label?: string;
  /** Socket file mode (default 0o660): who may connect is who may open the file. */
  mode?: number;
}

/** Listens on path; a stale socket file left by a dead process is removed first, a live one is
 *  refused (UNAVAILABLE: another process serves it). */
export async function unixListener(path: string, opts: UnixListenerOptions = {}): Promise<Listener> {
  await removeStaleSocket(path);
  let handler: ((c: Connection) => void) | undefined;
  const server = createServer((sock) => {
    sock.on('error', ignore);
    tune(sock);
    const peer: PeerIdentity = { transport: 'unix', id: opts.label ?? path, details: { path } };
    if (handler) handler({ stream: sock, peer });
    else sock.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new VmanageError(ErrorCodes.Unavailable, `cannot listen on ${path}: ${err.message}`, { path }, { cause: err })));
    server.listen(path, () => resolve());
  });
  chmodSync(path, opts.mode ?? 0o660);
  return {
    kind: 'unix',
    address: path,
    onConnection(h) { handler = h; },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Existing connections stay with their channels; the socket file goes now.
      try { unlinkSync(path); } catch { /* already gone */ }
    }),
  };
}

async function removeStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  if (!lstatSync(path).isSocket()) {
    throw new VmanageError(ErrorCodes.InvalidInput, `${path} exists and is not a socket`, { path });
  }
  const live = await new Promise<boolean>((resolve) => {
    const probe = connect({ path });
    probe.once('connect', () => { probe.destroy(); resolve(true); });
    probe.once('error', () => resolve(false));
  });
  if (live) throw new VmanageError(ErrorCodes.Unavailable, `${path} is in use by another process`, { path });
  unlinkSync(path);
}

function tune(sock: Socket): void {
  sock.setNoDelay?.(true);
}

/** Keeps a late socket error (e.g. a TLS alert after the handshake) from becoming uncaught. */
function ignore(): void {}
