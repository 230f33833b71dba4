// The M-channel contract shared by every transport and every user of channels.
// Layers: a Transport yields byte streams (Duplex); framing turns bytes into JSON frames;
// a Session adds handshake, seq/ack, replay and resume over successive streams; a Channel is
// what applications use (send, request/reply, async iteration). See docs/mchannel.md.
import type { Duplex } from 'node:stream';

/** Who the peer is, as established by the transport (never by the message). */
export interface PeerIdentity {
  /** Transport kind: 'unix', 'tls', 'chardev', 'xenstore', 'memory'. */
  readonly transport: string;
  /**
   * Stable identity: for unix sockets "uid:N" (SO_PEERCRED when available) or the socket path;
   * for TLS the certificate's subject CN; for a VM channel the VM's UUID (which socket/path it
   * talks on); for memory pairs the name given.
   */
  readonly id: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface Connection {
  readonly stream: Duplex;
  readonly peer: PeerIdentity;
}

/** The client side of a transport: one attempt to get a byte stream to the peer. */
export interface Connector {
  readonly kind: string;
  /** Human-readable target, for logs and errors. */
  readonly target: string;
  connect(signal?: AbortSignal): Promise<Connection>;
}

/** The server side of a transport: yields one Connection per accepted peer. */
export interface Listener {
  readonly kind: string;
  readonly address: string;
  onConnection(handler: (conn: Connection) => void): void;
  close(): Promise<void>;
}
