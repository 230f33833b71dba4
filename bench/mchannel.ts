// `npm run bench -- mchannel [count]`: 200-byte messages over a unix socket to a peer process,
// M-channel sessions vs raw NDJSON measured in the same run (alternating rounds, median kept):
// throughput (msgsPerSec, rawMsgsPerSec, ratioToRaw) and one-way delivery latency at a fixed
// offered load of 10,000 msg/s (p50Ms, p99Ms; raw too, for reference).
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

/** Sends count messages as fast as the transport accepts them; returns msgs/s at the receiver. */
async function throughput(make: Make, mode: string, dir: string, count: number): Promise<number> {
  const peer = await startPeer(mode, join(dir, `${mode}-t${seqNo++}.sock`), count);
  const s = await make(peer.path);
  const start = nowNs();
  for (let i = 0; i < count; i++) {
    const r = s.send(i);
    if (r === false) await s.drain();
    else if (r !== true) await r;
  }
  const res: PeerResult = await peer.result;
  await s.close();
  return count / ((res.lastNs - start) / 1e9);
}

/** Offers RATE msg/s for count messages; returns the receiver's latency percentiles. */
async function latency(make: Make, mode: string, dir: string, count: number): Promise<PeerResult> {
  const peer = await startPeer(mode, join(dir, `${mode}-l${seqNo++}.sock`), count);
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
  const rounds = 3;
  const dir = mkdtempSync(join(tmpdir(), 'vmanage-bench-'));
  try {
    const raw: number[] = [];
    const mch: number[] = [];
    for (let r = 0; r < rounds; r++) {
      raw.push(await throughput(rawSender, 'raw', dir, count));
      mch.push(await throughput(mchSender, 'mch', dir, count));
      process.stderr.write(`round ${r + 1}: raw ${raw[r]?.toFixed(0)} msg/s, M-channel ${mch[r]?.toFixed(0)} msg/s\n`);
    }
    const latCount = RATE * 3;
    const rawLat = await latency(rawSender, 'raw', dir, latCount);
    const mchLat = await latency(mchSender, 'mch', dir, latCount);
    const msgsPerSec = median(mch);
    const rawMsgsPerSec = median(raw);
    const r3 = (x: number): number => Math.round(x * 1000) / 1000;
    return {
      bench: 'mchannel', transport: 'unix', messageBytes: MSG_BYTES, count, rounds,
      msgsPerSec: Math.round(msgsPerSec), rawMsgsPerSec: Math.round(rawMsgsPerSec), ratioToRaw: r3(msgsPerSec / rawMsgsPerSec),
      offeredRate: RATE, latencyCount: latCount, p50Ms: r3(mchLat.p50Ms), p99Ms: r3(mchLat.p99Ms),
      rawP50Ms: r3(rawLat.p50Ms), rawP99Ms: r3(rawLat.p99Ms),
      latencyDefinition: 'one-way: send() call in the sender process -> delivery to the application in the peer process (shared CLOCK_MONOTONIC)',
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
