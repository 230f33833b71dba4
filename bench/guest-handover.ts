// `npm run bench -- guest-handover [migrations] [reportsPerHop]`: the host side of live migration
// without QEMU: two guest channel managers (src/adapters/guests) with their handover endpoints on
// unix sockets, the real agent link on the guest end of a virtio-serial port model (QEMU's
// socket chardev: lines held while no host is connected). Per migration the destination QEMU
// appears and libvirt says "started (migrated)", the source QEMU exits, then "stopped (migrated)".
// Measures the switch time (source "stopped" event -> first report delivered at the destination)
// p50/p95 in ms, and the reports lost / duplicated across all migrations (both must be 0).
// Each migration's destination says hello to the agent, whose port stays open: the agent takes
// at most 8 hellos per 10 s (M-channel HELLO_BURST), so migrations are paced to 7 per 10 s (a
// real migration takes seconds anyway); the pause is not part of the switch time.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../src/adapters/clock.js';
import { HandoverClient, HandoverServer } from '../src/adapters/guests/handover-endpoint.js';
import { GuestChannelManager } from '../src/adapters/guests/manager.js';
import { Agent } from '../src/daemons/agent/agent.js';
import { parseConfig } from '../src/daemons/agent/config.js';
import { createAgentLink } from '../src/daemons/agent/link.js';
import { createLogger } from '../src/daemons/agent/log.js';
import { unixConnector, unixListener } from '../src/mchannel/transports/unix.js';
import { guestFamily } from '../src/protocol/guest.js';
import { createRegistry } from '../src/protocol/registry.js';
import { GuestPort, MemoryHypervisor, QemuSocket } from '../test/guests/fixtures.js';

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
};

async function until(fn: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error('bench step timed out');
    await new Promise((r) => setImmediate(r));
  }
}

export default async function guestHandover(args: string[]): Promise<object> {
  const migrations = Number(args[0] ?? 50);
  const perHop = Number(args[1] ?? 20);
  const dir = mkdtempSync(join(tmpdir(), 'vmanage-bench-'));
  const vm = randomUUID();
  const quiet = createLogger('error');
  const port = new GuestPort();
  const cfg = parseConfig({ objectives: [{ name: 'n', source: 'push', op: '>=', target: 0, staleMs: 3_600_000 }] });
  const link = createAgentLink(cfg, quiet);
  const agent = new Agent(cfg, link, quiet, { every: () => ({ cancel: () => {} }), now: () => Date.now() });
  link.attach({ stream: port.guest, peer: { transport: 'chardev', id: 'host' } });
  const seen: number[] = [];
  const hosts = await Promise.all(['a', 'b'].map(async (name) => {
    const hv = new MemoryHypervisor();
    const other = name === 'a' ? 'b' : 'a';
    const m = new GuestChannelManager({
      hypervisor: hv, clock: systemClock,
      channel: { role: 'host', validator: createRegistry(guestFamily), backoffMinMs: 5, backoffMaxMs: 50 },
      handover: new HandoverClient([{ name: other, connector: unixConnector(join(dir, `${other}.handover`)) }], systemClock),
    });
    const server = new HandoverServer({ listener: await unixListener(join(dir, `${name}.handover`)), clock: systemClock, accept: (v, s, from) => m.receiveHandover(v, s, from) });
    let firstAt = 0;
    m.events.on('report', (r) => { seen.push(r.report.measured.value); if (!firstAt) firstAt = performance.now(); });
    return { name, hv, m, server, q: new QemuSocket(join(dir, `${name}.qemu`), port), first: () => firstAt, resetFirst: () => { firstAt = 0; } };
  }));
  let n = 0;
  const report = async (): Promise<void> => { agent.push.put('n', ++n); await agent.report(); };
  const switchMs: number[] = [];
  const hellos: number[] = [Date.now()]; // the first host's
  const HELLOS_PER_10S = 7; // under the agent's limit of 8, with one to spare
  try {
    const [a] = hosts;
    await a!.q.listen();
    a!.hv.add(vm, a!.q.path);
    for (const h of hosts) await h.m.start();
    for (let i = 0; i < migrations; i++) {
      const [src, dst] = i % 2 === 0 ? [hosts[0]!, hosts[1]!] : [hosts[1]!, hosts[0]!];
      for (let k = 0; k < perHop; k++) await report();
      await until(() => seen.length >= n);
      if (hellos.length >= HELLOS_PER_10S) await new Promise((r) => setTimeout(r, Math.max(0, hellos[hellos.length - HELLOS_PER_10S]! + 10_500 - Date.now())));
      hellos.push(Date.now());
      await dst.q.listen();
      dst.hv.add(vm, dst.q.path);
      dst.hv.fire(vm, 'started', 'migrated');
      await src.q.close();
      await report();
      dst.resetFirst();
      const t0 = performance.now();
      src.hv.vms.delete(vm);
      src.hv.fire(vm, 'stopped', 'migrated');
      await until(() => dst.first() > 0);
      switchMs.push(dst.first() - t0);
    }
    for (let k = 0; k < perHop; k++) await report();
    await until(() => seen.length >= n);
  } finally {
    for (const h of hosts) { await h.m.stop(); await h.server.close(); await h.q.close(); }
    link.channel.detach();
    rmSync(dir, { recursive: true, force: true });
  }
  const counts = new Map<number, number>();
  for (const v of seen) counts.set(v, (counts.get(v) ?? 0) + 1);
  let lost = 0;
  for (let i = 1; i <= n; i++) if (!counts.has(i)) lost++;
  const duplicated = [...counts.values()].reduce((s, c) => s + c - 1, 0);
  const outOfOrder = seen.filter((v, i) => i > 0 && v < seen[i - 1]!).length;
  return {
    bench: 'guest-handover', migrations, reports: n, lost, duplicated, outOfOrder,
    switchP50Ms: Number(pct(switchMs, 0.5).toFixed(2)), switchP95Ms: Number(pct(switchMs, 0.95).toFixed(2)), switchMaxMs: Number(Math.max(...switchMs).toFixed(2)),
  };
}
