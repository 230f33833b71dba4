// In-memory transport for tests: a pair of connected Duplex streams, and a Connector/Listener
// pair whose connections the test can cut at any moment (to exercise reconnect and resume).
import { Duplex } from 'node:stream';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import type { Connection, Connector, Listener } from '../types.js';

class MemoryEnd extends Duplex {
  other: MemoryEnd | undefined;
  private pendingCb: (() => void) | undefined;

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const other = this.other;
    if (!other || other.destroyed) {
      cb(new Error('memory peer is gone'));
      return;
    }
    // Honour the reader's backpressure: hold the callback until it wants more.
    if (other.push(chunk)) cb();
    else other.pendingCb = cb;
  }

  override _read(): void {
    const cb = this.other?.pendingCb;
    if (cb && this.other) {
      this.other.pendingCb = undefined;
      cb();
    }
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.other?.push(null);
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const other = this.other;
    this.other = undefined;
    if (other && !other.destroyed) {
      other.push(null);
      other.destroy();
    }
    cb(err);
  }
}

/** Two connected ends: what one writes, the other reads. */
export function memoryPair(aName = 'a', bName = 'b'): [Connection, Connection] {
  const a = new MemoryEnd();
  const b = new MemoryEnd();
  a.other = b;
  b.other = a;
  return [
    { stream: a, peer: { transport: 'memory', id: bName } },
    { stream: b, peer: { transport: 'memory', id: aName } },
  ];
}

export interface MemoryNetwork {
  readonly connector: Connector;
  readonly listener: Listener;
  /** Connections currently open (client ends). */
  readonly open: Connection[];
  /** Destroys every open connection (both ends). */
  cutAll(): void;
  /** While true, connect() fails as if nobody listened. */
  refuse: boolean;
}

/** A Connector and Listener joined in memory: each connect() yields a new pair. */
export function memoryNetwork(clientName = 'client', serverName = 'server'): MemoryNetwork {
  let handler: ((c: Connection) => void) | undefined;
  let closed = false;
  const net: MemoryNetwork = {
    open: [],
    refuse: false,
    cutAll() {
      for (const c of net.open.splice(0)) c.stream.destroy();
    },
    connector: {
      kind: 'memory',
      target: serverName,
      connect: async () => {
        if (closed || net.refuse || !handler) throw new VmanageError(ErrorCodes.Unavailable, `memory listener ${serverName} is not accepting`);
        const [client, server] = memoryPair(clientName, serverName);
        net.open.push(client);
        client.stream.once('close', () => {
          const i = net.open.indexOf(client);
          if (i >= 0) net.open.splice(i, 1);
        });
        handler(server);
        return client;
      },
    },
    listener: {
      kind: 'memory',
      address: serverName,
      onConnection(h) { handler = h; },
      // Like a socket listener: stops accepting; open connections stay with their owners.
      async close() { closed = true; },
    },
  };
  return net;
}
