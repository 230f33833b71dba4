// Starts the benchmark peer process and waits for it to listen; its result arrives on stdout.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface PeerResult { firstNs: number; lastNs: number; p50Ms: number; p90Ms: number; p99Ms: number; p999Ms: number; maxMs: number; cpuUs: number }

const peerScript = join(dirname(fileURLToPath(import.meta.url)), 'mchannel-peer.ts');

export async function startPeer(mode: string, path: string, count: number, warm = 0): Promise<{ path: string; result: Promise<PeerResult> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', peerScript, mode, path, String(count), String(warm)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((r) => { onReady = r; });
  const result = new Promise<PeerResult>((resolve, reject) => {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s: string) => {
      out += s;
      if (out.includes('ready\n')) onReady();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line) as PeerResult);
    });
    child.once('exit', (code) => reject(new Error(`bench peer exited with ${code} before reporting`)));
  });
  result.catch(() => {});
  await Promise.race([ready, result]);
  return { path, result };
}
