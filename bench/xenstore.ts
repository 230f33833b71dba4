// `npm run bench -- xenstore [messages]`: the xenstore client and the M-channel xenstore
// transport against the test xenstored running as a separate process (NOT real Xen's xenstored:
// see docs/xen.md). Reports READ round trips, channel request/reply round trips, one-way
// message throughput and the ring's raw byte throughput (4 MiB guest -> host).
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { connectXenstoreSocket } from '../src/adapters/xen/connect.js';
import { acceptAnything, Channel, ChannelServer, type Connection } from '../src/mchannel/index.js';
import { XenstoreConnector, XenstoreListener } from '../src/mchannel/transports/xenstore.js';

function pct(samples: number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return Number((s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0).toFixed(3));
}

async function timed(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

export default async function run(args: string[]): Promise<object> {
  const messages = Number(args[0] ?? 2000);
  const dir = await mkdtemp(join(tmpdir(), 'vmanage-bench-xs-'));
  const sock = join(dir, 'socket');
  const guestSock = join(dir, 'guest-5.sock');
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/xenstored/main.ts', '--socket', sock, '--guest', `5=${guestSock}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await once(child.stdout!, 'data');
    const dom0 = await connectXenstoreSocket(sock);
    await dom0.write('/bench/k', 'v');
    const readMs = await timed(1000, () => dom0.read('/bench/k'));

    const listener = new XenstoreListener(dom0);
    const server = new ChannelServer(listener, { role: 'host', validator: acceptAnything });
    const hostReady = new Promise<Channel>((r) => server.events.once('channel', r));
    await listener.serve(5);
    const guestXs = await connectXenstoreSocket(guestSock);
    const agent = Channel.client(new XenstoreConnector(guestXs), { role: 'agent', validator: acceptAnything });
    await agent.whenConnected();
    const host = await hostReady;
    host.handle('ping', (b) => b);
    const rttMs = await timed(300, () => agent.request('ping', { t: 1 }));

    const body = { kind: 'sla', state: 'ok', p95Ms: 41.5, objectiveMs: 50, pad: 'x'.repeat(160) };
    const t0 = performance.now();
    const all = (async () => { let n = 0; for await (const _m of host) if (++n === messages) break; })();
    for (let i = 0; i < messages; i++) await agent.send('report', body);
    await all;
    const msgPerS = messages / ((performance.now() - t0) / 1000);

    await agent.close();
    await server.close();

    // Raw ring throughput, guest -> host, without the M-channel session on top.
    const rawListener = new XenstoreListener(dom0);
    const hostConn = new Promise<Connection>((r) => rawListener.onConnection(r));
    await rawListener.serve(5);
    const g = await new XenstoreConnector(guestXs).connect();
    const h = await hostConn;
    const total = 4 * 1024 * 1024;
    const r0 = performance.now();
    let got = 0;
    const drained = new Promise<void>((resolve) => h.stream.on('data', (b: Buffer) => { got += b.length; if (got >= total) resolve(); }));
    for (let off = 0; off < total; off += 65536) if (!g.stream.write(Buffer.alloc(65536, 0x61))) await once(g.stream, 'drain');
    await drained;
    const ringMiBPerS = (total / 1024 / 1024) / ((performance.now() - r0) / 1000);
    g.stream.destroy();
    await rawListener.close();
    guestXs.close();
    dom0.close();
    return {
      peer: 'test xenstored fixture (TypeScript, separate process), not Xen',
      readRttP50Ms: pct(readMs, 50), readRttP95Ms: pct(readMs, 95),
      channelRequestRttP50Ms: pct(rttMs, 50), channelRequestRttP95Ms: pct(rttMs, 95),
      messages, messageBytes: JSON.stringify(body).length, oneWayMsgPerS: Math.round(msgPerS),
      ringGuestToHostMiBPerS: Number(ringMiBPerS.toFixed(2)),
    };
  } finally {
    child.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
}
