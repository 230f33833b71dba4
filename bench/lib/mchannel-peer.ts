// The benchmark's receiving process: `node --import tsx bench/lib/mchannel-peer.ts MODE SOCKET COUNT`
// MODE raw: plain NDJSON on a unix socket (parse each line); mch: an M-channel session server.
// Prints "ready" when listening, then one JSON line when COUNT messages arrived:
// {firstNs, lastNs, p50Ms, p99Ms} where latency = arrival - the sender's t (shared monotonic clock).
import { createServer } from 'node:net';
import { ChannelServer, unixListener } from '../../src/mchannel/index.js';
import { benchRegistry, nowNs, percentile } from './mchannel-common.js';

const [mode, path = '', countArg] = process.argv.slice(2);
const count = Number(countArg);
const lat = new Float64Array(count);
let n = 0;
let firstNs = 0;

function arrived(t: number): void {
  const now = nowNs();
  if (n === 0) firstNs = now;
  lat[n++] = (now - t) / 1e6;
  if (n === count) {
    const sorted = lat.slice().sort();
    process.stdout.write(`${JSON.stringify({ firstNs, lastNs: now, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) })}\n`);
    setTimeout(() => process.exit(0), 50);
  }
}

if (mode === 'raw') {
  const server = createServer((sock) => {
    let rest = '';
    sock.setEncoding('utf8');
    sock.on('data', (s: string) => {
      const lines = (rest + s).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) arrived((JSON.parse(l) as { t: number }).t);
    });
  });
  server.listen(path, () => process.stdout.write('ready\n'));
} else {
  const server = new ChannelServer(await unixListener(path), { role: 'bench-sink', validator: benchRegistry });
  server.events.on('channel', (ch) => {
    void (async () => {
      for await (const m of ch) arrived((m.body as { t: number }).t);
    })();
  });
  process.stdout.write('ready\n');
}
