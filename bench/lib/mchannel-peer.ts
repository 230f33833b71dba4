// The benchmark's receiving process: `node --import tsx bench/lib/mchannel-peer.ts MODE SOCKET COUNT [WARM]`
// MODE raw: plain NDJSON on a unix socket (parse each line); mch: an M-channel session server.
// Prints "ready" when listening, then one JSON line when COUNT messages arrived:
// {firstNs, lastNs, p50Ms, p99Ms, cpuUs} where cpuUs is this process's CPU time from the first
// arrival to the last and latency = arrival - the sender's t (shared monotonic clock).
import { createServer } from 'node:net';
import { ChannelServer, unixListener } from '../../src/mchannel/index.js';
import { benchRegistry, nowNs, percentile } from './mchannel-common.js';

const [mode, path = '', countArg, warmArg = '0'] = process.argv.slice(2);
const count = Number(countArg);
/** Messages with i < warm are counted but left out of the latency figures (JIT warm-up). */
const warm = Number(warmArg);
const lat = new Float64Array(count);
let n = 0;
let measured = 0;
let firstNs = 0;
let cpu0 = process.cpuUsage();

function arrived(t: number, i: number): void {
  const now = nowNs();
  if (n === 0) {
    firstNs = now;
    cpu0 = process.cpuUsage();
  }
  n++;
  if (i >= warm) lat[measured++] = (now - t) / 1e6;
  if (n === count) {
    const sorted = lat.subarray(0, measured).slice().sort();
    const cpu = process.cpuUsage(cpu0);
    const cpuUs = cpu.user + cpu.system;
    process.stdout.write(`${JSON.stringify({ firstNs, lastNs: now, p50Ms: percentile(sorted, 50), p90Ms: percentile(sorted, 90), p99Ms: percentile(sorted, 99), p999Ms: percentile(sorted, 99.9), maxMs: sorted[sorted.length - 1], cpuUs })}\n`);
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
      for (const l of lines) {
        const b = JSON.parse(l) as { t: number; i: number };
        arrived(b.t, b.i);
      }
    });
  });
  server.listen(path, () => process.stdout.write('ready\n'));
} else {
  const server = new ChannelServer(await unixListener(path), { role: 'bench-sink', validator: benchRegistry });
  server.events.on('channel', (ch) => {
    void (async () => {
      for await (const m of ch) {
        const b = m.body as { t: number; i: number };
        arrived(b.t, b.i);
      }
    })();
  });
  process.stdout.write('ready\n');
}
