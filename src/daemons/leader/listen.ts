// Where host daemons reach the leader: a unix socket (one machine, tests) or TCP + mutual TLS
// (the cluster CA signs both sides; the client certificate's CN is the host's identity).
import { readFileSync } from 'node:fs';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import { tlsListener, unixListener, type Listener } from '../../mchannel/index.js';
import type { LeaderConfig } from './config.js';

function readPem(what: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new VmanageError(ErrorCodes.ConfigInvalid, `listen.tls.${what}: cannot read ${path}: ${(err as Error).message}`, { path });
  }
}

export async function listenerFor(l: LeaderConfig['listen']): Promise<Listener> {
  if ('unix' in l) return await unixListener(l.unix, { mode: 0o660 });
  const t = l.tls;
  return await tlsListener({ host: t.host, port: t.port, ca: readPem('ca', t.ca), cert: readPem('cert', t.cert), key: readPem('key', t.key) });
}
