// `npm run bench -- mchannel [count] [rounds]`: 200-byte messages over a unix socket to a peer
// process, M-channel sessions (validated bodies, seq/ack, replay buffer) vs raw NDJSON on a plain
// unix socket, measured in the same run: rounds of adjacent raw/M-channel runs; ratioToRaw is the
// median of the per-round ratios. Also CPU time per message of both processes (a load-independent
// cost figure), and one-way delivery latency at a fixed offered load of 10,000 msg/s.
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Channel, unixConnector } from '../src/mchannel/index.js';
import { benchRegistry, body, nowNs } from './lib/mchannel-common.js';
import { startPeer, type PeerResult } from './lib/mchannel-run.js';

const MSG_BYTES = 200;
const RATE = 10_000; // msg/s offered in the latency phase
let seqNo = 0;

interface Sender { send(i: number): Promise<void> | boolean; drain(): Promise<void>; close(): Promise<void> }

async function rawSender(path: string): Promise<Sender> {
  const sock: Socket = await new Promise((resolve, reject) => {
    const s = connect({ path }, () => resolve(s));
    s.once('error', reject);
  });
  return {
    send: (i) => sock.write(`${JSON.stringify(body(i, MSG_BYTES))}\n`),
    drain: () => new Promise((r) => sock.once('drain', r)),
    close: async () => { sock.end(); },
  };
}

async function mchSender(path: string): Promise<Sender> {
  const ch = Channel.client(unixConnector(path), { role: 'bench', validator: benchRegistry });
  await ch.whenConnected();
  return {
    send: (i) => ch.send('bench.msg', body(i, MSG_BYTES)),
    drain: async () => {},
    close: () => ch.close(),
  };
}

type Make = (path: string) => Promise<Sender>;

interface Throughput { msgsPerSec: number; cpuUsPerMsg: number }

/** Sends count messages as fast as the transport accepts them: msgs/s at the receiver, and CPU
 *  time of both processes per message (load on the machine changes the first, hardly the second). */
async function throughput(make: Make, mode: string, dir: string, count: number): Promise<Throughput> {
  const peer = await startPeer(mode, join(dir, `${mode}-t${seqNo++}.sock`), count);
  const s = await make(peer.path);
  const start = nowNs();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    const r = s.send(i);
    if (r === false) await s.drain();
    else if (r !== true) await r;
  }
  const res: PeerResult = await peer.result;
  const cpu = process.cpuUsage(cpu0);
  await s.close();
  return { msgsPerSec: count / ((res.lastNs - start) / 1e9), cpuUsPerMsg: (cpu.user + cpu.system + res.cpuUs) / count };
}

/** Offers RATE msg/s for warm + count messages; returns the receiver's latency percentiles over
 *  the last count (the first warm ones let the JIT compile the path in both processes). */
async function latency(make: Make, mode: string, dir: string, measured: number, warm: number): Promise<PeerResult> {
  const count = warm + measured;
  const peer = await startPeer(mode, join(dir, `${mode}-l${seqNo++}.sock`), count, warm);
  const s = await make(peer.path);
  const start = nowNs();
  let i = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(count, Math.floor(((nowNs() - start) / 1e9) * RATE));
      while (i < due) void s.send(i++);
      if (i < count) setTimeout(tick, 0);
      else resolve();
    };
    tick();
  });
  const res = await peer.result;
  await s.close();
  return res;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

export default async function run(args: string[]): Promise<object> {
  const count = Number(args[0] ?? 100_000);
  const rounds = Number(args[1] ?? 5);
  const dir = mkdtempSync(join(tmpdir(), 'vmanage-bench-'));
  try {
    const raw: Throughput[] = [];
    const mch: Throughput[] = [];
    const ratios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // Adjacent runs, alternating order: a burst of load elsewhere hits both about equally.
      const pair = r % 2 === 0
        ? [await throughput(rawSender, 'raw', dir, count), await throughput(mchSender, 'mch', dir, count)]
        : [await throughput(mchSender, 'mch', dir, count), await throughput(rawSender, 'raw', dir, count)].reverse();
      const [rr, mm] = pair as [Throughput, Throughput];
      raw.push(rr);
      mch.push(mm);
      ratios.push(mm.msgsPerSec / rr.msgsPerSec);
      process.stderr.write(`round ${r + 1}: raw ${rr.msgsPerSec.toFixed(0)} msg/s (${rr.cpuUsPerMsg.toFixed(2)} us CPU/msg), M-channel ${mm.msgsPerSec.toFixed(0)} msg/s (${mm.cpuUsPerMsg.toFixed(2)} us CPU/msg)\n`);
    }
    const latCount = RATE * 3;
    const warm = RATE / 2;
    const rawLats: PeerResult[] = [];
    const mchLats: PeerResult[] = [];
    for (let r = 0; r < 3; r++) {
      rawLats.push(await latency(rawSender, 'raw', dir, latCount, warm));
      mchLats.push(await latency(mchSender, 'mch', dir, latCount, warm));
      process.stderr.write(`latency round ${r + 1}: raw p50 ${rawLats[r]?.p50Ms.toFixed(3)} p99 ${rawLats[r]?.p99Ms.toFixed(3)} ms, M-channel p50 ${mchLats[r]?.p50Ms.toFixed(3)} p99 ${mchLats[r]?.p99Ms.toFixed(3)} ms\n`);
    }
    const r3 = (x: number): number => Math.round(x * 1000) / 1000;
    const cpu = median(mch.map((x) => x.cpuUsPerMsg));
    const rawCpu = median(raw.map((x) => x.cpuUsPerMsg));
    return {
      bench: 'mchannel', transport: 'unix', messageBytes: MSG_BYTES, count, rounds,
      msgsPerSec: Math.round(median(mch.map((x) => x.msgsPerSec))), rawMsgsPerSec: Math.round(median(raw.map((x) => x.msgsPerSec))),
      ratioToRaw: r3(median(ratios)), ratioPerRound: ratios.map(r3),
      cpuUsPerMsg: r3(cpu), rawCpuUsPerMsg: r3(rawCpu), cpuRatioToRaw: r3(rawCpu / cpu),
      offeredRate: RATE, latencyCount: latCount, latencyWarmup: warm, latencyRounds: 3,
      p50Ms: r3(median(mchLats.map((x) => x.p50Ms))), p99Ms: r3(median(mchLats.map((x) => x.p99Ms))),
      rawP50Ms: r3(median(rawLats.map((x) => x.p50Ms))), rawP99Ms: r3(median(rawLats.map((x) => x.p99Ms))),
      p99MsPerRound: mchLats.map((x) => r3(x.p99Ms)), rawP99MsPerRound: rawLats.map((x) => r3(x.p99Ms)),
      p999Ms: r3(median(mchLats.map((x) => x.p999Ms))), rawP999Ms: r3(median(rawLats.map((x) => x.p999Ms))),
      latencyDefinition: 'one-way: send() call in the sender process -> delivery to the application in the peer process (shared CLOCK_MONOTONIC); median over rounds',
      loadAverage1m: loadavg()[0],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
