// TCP + mutual TLS (host daemons to the Cluster Leader). Both sides present a certificate signed
// by the cluster CA; anything else is refused during the TLS handshake. The client checks the
// server's name (CN or DNS SAN) against the name it expects; the listener may restrict client
// names. Identity = the peer certificate's subject CN.
import { checkServerIdentity, connect, createServer, type PeerCertificate, type TLSSocket } from 'node:tls';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import type { Connection, Connector, Listener, PeerIdentity } from '../types.js';

/** PEM texts (not paths): the caller reads its files, so errors name the file it read. */
export interface TlsMaterial {
  /** Cluster CA certificate(s): the only issuer trusted. */
  ca: string | Buffer;
  cert: string | Buffer;
  key: string | Buffer;
}

export interface TlsConnectorOptions extends TlsMaterial {
  host: string;
  port: number;
  /** Name the server certificate must carry (CN or DNS SAN), e.g. 'leader'. */
  serverName: string;
}

export function tlsConnector(o: TlsConnectorOptions): Connector {
  const target = `${o.host}:${o.port} (${o.serverName})`;
  return {
    kind: 'tls',
    target,
    connect: (signal) => new Promise<Connection>((resolve, reject) => {
      const sock = connect({
        host: o.host, port: o.port, ca: o.ca, cert: o.cert, key: o.key, rejectUnauthorized: true,
        servername: isIp(o.serverName) ? undefined : o.serverName,
        checkServerIdentity: (_host, cert) => checkName(o.serverName, cert),
        minVersion: 'TLSv1.2',
      });
      const fail = (err: Error): void => {
        sock.destroy();
        reject(new VmanageError(ErrorCodes.Unavailable, `TLS connection to ${target} failed: ${err.message}`, { target }, { cause: err }));
      };
      const onAbort = (): void => fail(new Error('connect aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      sock.once('error', fail);
      sock.once('secureConnect', () => {
        signal?.removeEventListener('abort', onAbort);
        sock.off('error', fail);
        sock.on('error', ignore); // the channel's own listener reports errors; never crash on one
        sock.setNoDelay(true);
        resolve({ stream: sock, peer: identityOf(sock) });
      });
    }),
  };
}

export interface TlsListenerOptions extends TlsMaterial {
  host: string;
  /** 0 picks a free port; read it from the returned listener's port. */
  port: number;
  /** When set, a client whose certificate CN is not accepted is disconnected at once. */
  allowClient?: (cn: string) => boolean;
}

export interface TlsListener extends Listener {
  readonly port: number;
  /** Connections refused after the TLS handshake (allowClient said no) or failing it. */
  readonly refused: { handshake: number; name: number };
}

export async function tlsListener(o: TlsListenerOptions): Promise<TlsListener> {
  let handler: ((c: Connection) => void) | undefined;
  const refused = { handshake: 0, name: 0 };
  const server = createServer({ ca: o.ca, cert: o.cert, key: o.key, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, (sock) => {
    sock.on('error', ignore);
    const peer = identityOf(sock);
    if (!sock.authorized || (o.allowClient && !o.allowClient(peer.id))) {
      refused.name++;
      sock.destroy();
      return;
    }
    sock.setNoDelay(true);
    if (handler) handler({ stream: sock, peer });
    else sock.destroy();
  });
  server.on('tlsClientError', () => { refused.handshake++; });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new VmanageError(ErrorCodes.Unavailable, `cannot listen on ${o.host}:${o.port}: ${err.message}`, {}, { cause: err })));
    server.listen(o.port, o.host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  return {
    kind: 'tls',
    address: `${o.host}:${port}`,
    port,
    refused,
    onConnection(h) { handler = h; },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function identityOf(sock: TLSSocket): PeerIdentity {
  const cert = sock.getPeerCertificate();
  const cn = cnOf(cert);
  return {
    transport: 'tls',
    id: cn,
    details: { remote: `${sock.remoteAddress}:${sock.remotePort}`, fingerprint256: cert?.fingerprint256, validTo: cert?.valid_to },
  };
}

function cnOf(cert: PeerCertificate | undefined): string {
  const cn = cert?.subject?.CN as string | string[] | undefined;
  return Array.isArray(cn) ? (cn[0] ?? '') : (cn ?? '');
}

/** The server certificate must name `expected` in its DNS SANs or, without SANs, its CN. */
function checkName(expected: string, cert: PeerCertificate): Error | undefined {
  const std = checkServerIdentity(expected, cert);
  if (!std) return undefined;
  if (!cert.subjectaltname && cnOf(cert) === expected) return undefined;
  return new Error(`server certificate is for "${cnOf(cert)}", expected "${expected}"`);
}

function isIp(s: string): boolean {
  return /^[0-9.]+$/.test(s) || s.includes(':');
}

/** Keeps a late socket error (e.g. a TLS alert after the handshake) from becoming uncaught. */
function ignore(): void {}
