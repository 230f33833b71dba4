// A child process of the heartbeat benchmark: many simulated host daemons, each the real host
// client (LeaderLink over TCP + mutual TLS with its own certificate, CN = host id; the TLS
// context built once per host, see benchTls) registering
// with the leader and sending host.update (10 VMs) every second. Links are opened in batches so
// the leader's TLS handshakes do not time out. Talks to the parent over IPC:
// in: {op:'stats'} -> out: {op:'stats', registered, updates, registrationFailures}; out every
// 500 ms while ramping: {op:'progress', registered}.
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { systemClock } from '../../src/adapters/clock.js';
import { LeaderLink } from '../../src/adapters/leader-link/link.js';
import { connect, createSecureContext, type SecureContext } from 'node:tls';
import type { Connection, Connector } from '../../src/mchannel/types.js';
import type { HostRegister, HostUpdate } from '../../src/protocol/leader.js';

export interface ClientSpec {
  readonly port: number;
  readonly ca: string;
  readonly key: string;
  readonly hosts: readonly { readonly id: string; readonly index: number; readonly cert: string }[];
  readonly batch: number;
}

const log = pino({ level: 'silent' });
const hex = (n: number, w: number): string => n.toString(16).padStart(w, '0').slice(-w);

function registration(id: string): HostRegister {
  return {
    host: id, cpus: 32, memoryKiB: 128 << 20, power: { idleWatts: 90, peakWatts: 250, measured: false }, reliability: 1, trust: 'standard',
    frequency: { minKHz: 800_000, maxKHz: 3_000_000 }, powerTableWatts: [90, 106, 122, 138, 154, 170, 186, 202, 218, 234, 250], capWatts: 250,
    migrationUri: `qemu+tls://${id}/system`,
  };
}

function updater(index: number): () => HostUpdate {
  const vms = Array.from({ length: 10 }, (_, v) => `${hex(index, 8)}-0000-4000-8000-${hex(v, 12)}`);
  let tick = 0;
  return () => {
    tick++;
    return {
      ts: Date.now(), watts: 150 + ((index + tick) % 40), budgetWatts: 200, budgetSource: 'leader', capKHz: 3_000_000, reliability: 1, budgetViolations: 0,
      vms: vms.map((uuid, v) => ({ uuid, name: `vm-${index}-${v}`, cpuUtil: ((index * 7 + v * 13 + tick) % 100) / 100, sla: 'ok' as const, vcpus: 2, memoryKiB: 4 << 20 })),
    };
  };
}

/**
 * The transport of src/mchannel/transports/tls.ts (mutual TLS, the server's certificate must be
 * the CA's and name "leader") with each host's TLS context built once: the product's connector
 * builds it from PEM at every connect, which is nothing for one host but thousands of parses
 * here, on cores the leader shares.
 */
/** The last connection failure (VMANAGE_BENCH_DEBUG diagnostics). */
let lastConnectError = '';

function benchTls(port: number, ctx: SecureContext): Connector {
  return {
    kind: 'tls', target: `127.0.0.1:${port} (leader)`,
    connect: (signal) => new Promise<Connection>((resolve, reject) => {
      const sock = connect({ host: '127.0.0.1', port, secureContext: ctx, servername: 'leader', rejectUnauthorized: true, minVersion: 'TLSv1.2' });
      const fail = (err: Error): void => { lastConnectError = err.message; sock.destroy(); reject(err); };
      signal?.addEventListener('abort', () => fail(new Error('connect aborted')), { once: true });
      sock.once('error', fail);
      sock.once('secureConnect', () => {
        sock.off('error', fail);
        sock.on('error', () => {});
        sock.setNoDelay(true);
        resolve({ stream: sock, peer: { transport: 'tls', id: 'leader' } });
      });
    }),
  };
}

async function main(): Promise<void> {
  const spec = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as ClientSpec;
  const links: LeaderLink[] = [];
  const stats = () => ({
    registered: links.filter((l) => l.registered).length,
    updates: links.reduce((n, l) => n + l.counters.updates, 0),
    registrationFailures: links.reduce((n, l) => n + l.counters.registrationFailures, 0),
  });
  process.on('message', (m: { op?: string }) => {
    if (m.op === 'stats') process.send?.({ op: 'stats', ...stats() });
  });
  process.on('SIGTERM', () => process.exit(0));
  const progress = setInterval(() => process.send?.({ op: 'progress', registered: stats().registered }), 500);
  for (let i = 0; i < spec.hosts.length; i += spec.batch) {
    const batch = spec.hosts.slice(i, i + spec.batch).map((h) => new LeaderLink({
      connector: benchTls(spec.port, createSecureContext({ ca: spec.ca, cert: h.cert, key: spec.key })),
      host: h.id, clock: systemClock, log, updateMs: 1000, registration: () => registration(h.id), update: updater(h.index),
      onBudget: () => {}, onConnection: () => {},
    }));
    links.push(...batch);
    const until = Date.now() + 30_000;
    const b0 = Date.now();
    while (batch.some((l) => !l.registered) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    if (process.env.VMANAGE_BENCH_DEBUG) process.stderr.write(`batch at ${i}: ${Date.now() - b0} ms, ${batch.filter((l) => !l.registered).length} not registered; last connect error: ${lastConnectError}; link counters: ${JSON.stringify(batch.find((l) => !l.registered)?.counters)}\n`);
  }
  clearInterval(progress);
  process.send?.({ op: 'progress', registered: stats().registered, rampDone: true });
}

void main();
