// A real etcd (Debian etcd-server) for tests: one member on free loopback ports with a temporary
// data directory, stopped by PID when the test ends.
import { join } from 'node:path';
import { freePort, startProcess, tempDir, type Started, type Teardown } from './proc.js';

export interface EtcdServer {
  /** Client URL, http://127.0.0.1:PORT. */
  readonly url: string;
  readonly process: Started;
}

export async function startEtcd(t: Teardown): Promise<EtcdServer> {
  const dir = await tempDir(t, 'vmanage-etcd-');
  const clientPort = await freePort();
  const peerPort = await freePort();
  const url = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const process = await startProcess(t, 'etcd', [
    '--name', 'n1', '--data-dir', join(dir, 'data'),
    '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `n1=${peer}`, '--logger=zap',
  ], { ready: /serving client traffic/, readyTimeoutMs: 20_000 });
  return { url, process };
}
