import test from 'ava';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { systemClock } from '../../src/adapters/clock.js';
import { HandoverClient, HandoverServer } from '../../src/adapters/guests/handover-endpoint.js';
import { GuestChannelManager } from '../../src/adapters/guests/manager.js';
import type { GuestEvents } from '../../src/adapters/guests/types.js';
import { Agent, type AgentTimers } from '../../src/daemons/agent/agent.js';
import { parseConfig } from '../../src/daemons/agent/config.js';
import { createAgentLink } from '../../src/daemons/agent/link.js';
import { createLogger } from '../../src/daemons/agent/log.js';
import { unixConnector, unixListener } from '../../src/mchannel/transports/unix.js';
import { guestFamily } from '../../src/protocol/guest.js';
import { createRegistry } from '../../src/protocol/registry.js';
import { tempDir, waitFor, type Teardown } from '../support/proc.js';
import { GuestPort, MemoryHypervisor, QemuSocket } from './fixtures.js';

const quiet = createLogger('error');
const noTimers: AgentTimers = { every: () => ({ cancel: () => {} }), now: () => Date.now() };

/** A guest: the real agent (push objective "n") on the guest end of a virtio-serial port model. */
function guest(t: Teardown) {
  const port = new GuestPort();
  const cfg = parseConfig({ objectives: [{ name: 'n', source: 'push', op: '>=', target: 0, staleMs: 600_000 }] });
  const link = createAgentLink(cfg, quiet);
  const agent = new Agent(cfg, link, quiet, noTimers);
  link.attach({ stream: port.guest, peer: { transport: 'chardev', id: 'host' } });
  t.teardown(() => link.channel.detach());
  let n = 0;
  return {
    port, agent, link,
    /** Sends report number n+1 (its measured value is the number). */
    async report(): Promise<number> {
      agent.push.put('n', ++n);
      await agent.report();
      return n;
    },
  };
}

function host(t: Teardown, hv: MemoryHypervisor, opts: { handoverWaitMs?: number; peers?: { name: string; socket: string }[] } = {}) {
  const m = new GuestChannelManager({
    hypervisor: hv,
    clock: systemClock,
    channel: { role: 'host', validator: createRegistry(guestFamily), heartbeatMs: 200, deadAfterMs: 5000, backoffMinMs: 10, backoffMaxMs: 100 },
    handover: new HandoverClient((opts.peers ?? []).map((p) => ({ name: p.name, connector: unixConnector(p.socket) })), systemClock, 2000),
    handoverWaitMs: opts.handoverWaitMs ?? 10_000,
    lastReadWaitMs: 2000,
  });
  const seen: GuestEvents['report'][] = [];
  const sessions: GuestEvents['session'][] = [];
  m.events.on('report', (e) => seen.push(e));
  m.events.on('session', (e) => sessions.push(e));
  t.teardown(() => m.stop());
  return { m, seen, sessions, numbers: () => seen.map((r) => r.report.measured.value) };
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);

test('reports of a running VM arrive as typed events whose identity is the VM of the socket', async (t) => {
  const dir = await tempDir(t);
  const vm = randomUUID();
  const g = guest(t);
  const q = new QemuSocket(join(dir, 'a.sock'), g.port);
  await q.listen();
  t.teardown(() => q.close());
  const hv = new MemoryHypervisor();
  hv.add(vm, q.path);
  const h = host(t, hv);
  for (let i = 0; i < 3; i++) await g.report();
  await h.m.start();
  await waitFor('3 reports', () => h.seen.length >= 3);
  t.deepEqual(h.numbers(), [1, 2, 3]);
  t.true(h.seen.every((r) => r.vm === vm));
  t.is(h.seen[0]?.report.status, 'ok');
});

test('lines held while no host was connected are delivered once and flagged stale', async (t) => {
  const dir = await tempDir(t);
  const vm = randomUUID();
  const g = guest(t);
  const q = new QemuSocket(join(dir, 'a.sock'), g.port);
  await q.listen();
  const hv = new MemoryHypervisor();
  hv.add(vm, q.path);
  const h = host(t, hv);
  await h.m.start();
  await g.report();
  await waitFor('report 1', () => h.seen.length === 1);
  // QEMU restarts its chardev (the host's connection drops); the guest keeps writing.
  await q.close();
  await waitFor('the host to notice', () => h.sessions.some((s) => s.event === 'disconnected'));
  await g.report();
  await g.report();
  await waitFor('QEMU to hold the lines', () => g.port.heldBytes > 0);
  await q.listen();
  t.teardown(() => q.close());
  await waitFor('reports 2 and 3', () => h.seen.length >= 3, 10_000);
  t.deepEqual(h.numbers(), [1, 2, 3]);
  t.deepEqual(h.seen.map((r) => r.stale), [false, true, true]);
});

/** Two host daemons with a handover endpoint each, one VM, its port and per-host QEMU sockets. */
async function twoHosts(t: Teardown, handoverWaitMs = 10_000) {
  const dir = await tempDir(t);
  const vm = randomUUID();
  const g = guest(t);
  const sock = { a: join(dir, 'handover-a.sock'), b: join(dir, 'handover-b.sock') };
  const hvA = new MemoryHypervisor();
  const hvB = new MemoryHypervisor();
  const a = host(t, hvA, { handoverWaitMs, peers: [{ name: 'b', socket: sock.b }] });
  const b = host(t, hvB, { handoverWaitMs, peers: [{ name: 'a', socket: sock.a }] });
  for (const [h, path] of [[a, sock.a], [b, sock.b]] as const) {
    const server = new HandoverServer({ listener: await unixListener(path), clock: systemClock, accept: (v, s, from) => h.m.receiveHandover(v, s, from) });
    t.teardown(() => server.close());
  }
  const qA = new QemuSocket(join(dir, 'vm-on-a.sock'), g.port);
  const qB = new QemuSocket(join(dir, 'vm-on-b.sock'), g.port);
  t.teardown(() => qA.close());
  t.teardown(() => qB.close());
  return { vm, g, a, b, hvA, hvB, qA, qB };
}

/** The VM runs on a, both hosts are started, and the guest's first report has reached a. */
async function runningOnA(x: Pick<Awaited<ReturnType<typeof twoHosts>>, 'vm' | 'g' | 'a' | 'b' | 'hvA' | 'qA'>): Promise<void> {
  await x.qA.listen();
  x.hvA.add(x.vm, x.qA.path);
  await x.a.m.start();
  await x.b.m.start();
  await x.g.report();
  await waitFor('report 1 at a', () => x.a.seen.length === 1);
}

test('numbered reports are seen exactly once, in order, across migrations back and forth', async (t) => {
  const { vm, g, a, b, hvA, hvB, qA, qB } = await twoHosts(t);
  await qA.listen();
  hvA.add(vm, qA.path);
  await a.m.start();
  await b.m.start();
  const hosts = [{ h: a, hv: hvA, q: qA }, { h: b, hv: hvB, q: qB }];
  let sent = 0;
  for (let i = 0; i < 4; i++) {
    const [src, dst] = i % 2 === 0 ? [hosts[0]!, hosts[1]!] : [hosts[1]!, hosts[0]!];
    for (let k = 0; k < 5; k++) sent = await g.report();
    // Destination: QEMU starts listening and libvirt says "started (migrated)" before the end.
    await dst.q.listen();
    dst.hv.add(vm, dst.q.path);
    dst.hv.fire(vm, 'started', 'migrated');
    sent = await g.report();
    // Switch-over: the source QEMU exits; the guest keeps writing into the destination QEMU.
    await src.q.close();
    sent = await g.report();
    src.hv.vms.delete(vm);
    src.hv.fire(vm, 'stopped', 'migrated');
    sent = await g.report();
    await waitFor(`migration ${i + 1} to resume`, () => dst.h.sessions.filter((s) => s.event === 'resumed-from-handover').length === Math.floor(i / 2) + 1);
  }
  for (let k = 0; k < 3; k++) sent = await g.report();
  const all = () => [...a.seen, ...b.seen].sort((x, y) => x.receivedAt - y.receivedAt || x.seq - y.seq).map((r) => r.report.measured.value);
  await waitFor('every report', () => all().length >= sent, 10_000);
  t.deepEqual(all(), range(1, sent));
  t.is(a.m.counters.handedOff + b.m.counters.handedOff, 4);
  t.is(a.m.counters.handoverTimeouts + b.m.counters.handoverTimeouts, 0);
});

test('a migrated-in VM is not served before its handed-over session arrives', async (t) => {
  const { vm, g, a, b, hvA, hvB, qA, qB } = await twoHosts(t);
  await runningOnA({ vm, g, a, b, hvA, qA });
  await qB.listen();
  hvB.add(vm, qB.path);
  hvB.fire(vm, 'started', 'migrated');
  await qA.close();
  await g.report();
  await g.report();
  // The source has not handed over yet: b holds back (it would otherwise start a new session).
  await new Promise((r) => setTimeout(r, 300));
  t.is(b.seen.length, 0);
  t.true(qB.port.heldBytes > 0, 'the lines wait in QEMU');
  hvA.vms.delete(vm);
  hvA.fire(vm, 'stopped', 'migrated');
  await waitFor('reports 2 and 3 at b', () => b.seen.length === 2);
  t.deepEqual(b.seen.map((r) => r.report.measured.value), [2, 3]);
});

test('a migration slower than the handover wait: the destination waits while the VM is paused and after it resumes', async (t) => {
  const waitMs = 1500;
  const { vm, g, a, b, hvA, hvB, qA, qB } = await twoHosts(t, waitMs);
  await runningOnA({ vm, g, a, b, hvA, qA });
  // The incoming VM is paused on b while its memory is transferred, longer than waitMs.
  await qB.listen();
  hvB.add(vm, qB.path, 'paused');
  hvB.fire(vm, 'started', 'migrated');
  await new Promise((r) => setTimeout(r, 2.5 * waitMs));
  t.false(b.sessions.some((s) => s.event === 'handover-timeout'), 'no fallback while the VM is still paused');
  // The transfer ends: b resumes the VM, then a sees it stopped and hands the session over.
  hvB.vms.get(vm)!.info = { ...hvB.vms.get(vm)!.info, state: 'running' };
  hvB.fire(vm, 'resumed', 'migrated');
  await qA.close();
  await g.report();
  hvA.vms.delete(vm);
  hvA.fire(vm, 'stopped', 'migrated');
  await waitFor('report 2 at b', () => b.seen.length === 1, 20_000);
  t.deepEqual(b.seen.map((r) => r.report.measured.value), [2]);
  t.true(b.sessions.some((s) => s.event === 'resumed-from-handover'));
  t.is(b.m.counters.handoverTimeouts, 0);
});

test('without a handed-over session the destination starts a new one after its timeout', async (t) => {
  const { vm, g, b, hvB, qB } = await twoHosts(t, 200);
  await b.m.start();
  await qB.listen();
  hvB.add(vm, qB.path);
  hvB.fire(vm, 'started', 'migrated');
  await waitFor('the fallback', () => b.sessions.some((s) => s.event === 'handover-timeout'));
  await g.report();
  await waitFor('a report on the new session', () => b.seen.length === 1);
  t.is(b.m.counters.handoverTimeouts, 1);
});

test('a VM that stops for good has its session dropped', async (t) => {
  const dir = await tempDir(t);
  const vm = randomUUID();
  const g = guest(t);
  const q = new QemuSocket(join(dir, 'a.sock'), g.port);
  await q.listen();
  t.teardown(() => q.close());
  const hv = new MemoryHypervisor();
  hv.add(vm, q.path);
  const h = host(t, hv);
  await h.m.start();
  await waitFor('a session', () => h.m.session(vm)?.connected);
  hv.vms.delete(vm);
  hv.fire(vm, 'stopped', 'destroyed');
  await waitFor('closed', () => h.sessions.some((s) => s.event === 'closed'));
  t.is(h.m.session(vm), undefined);
});

test('after a hypervisor reconnect the inventory is re-read: new VMs get sessions, gone ones are dropped', async (t) => {
  const dir = await tempDir(t);
  const [vm1, vm2] = [randomUUID(), randomUUID()];
  const [g1, g2] = [guest(t), guest(t)];
  const q1 = new QemuSocket(join(dir, '1.sock'), g1.port);
  const q2 = new QemuSocket(join(dir, '2.sock'), g2.port);
  await q1.listen();
  await q2.listen();
  t.teardown(() => q1.close());
  t.teardown(() => q2.close());
  const hv = new MemoryHypervisor();
  hv.add(vm1, q1.path);
  const h = host(t, hv);
  await h.m.start();
  await waitFor('vm1 connected', () => h.m.session(vm1)?.connected);
  // Events missed while the connection to libvirt was down: vm1 went away, vm2 started.
  hv.vms.delete(vm1);
  hv.add(vm2, q2.path);
  hv.reconnected();
  await waitFor('vm2 connected', () => h.m.session(vm2)?.connected);
  t.is(h.m.session(vm1), undefined);
  await g2.report();
  await waitFor('a report from vm2', () => h.seen.some((r) => r.vm === vm2));
});

test('a restarted host daemon resumes the saved sessions: nothing lost, nothing repeated', async (t) => {
  const dir = await tempDir(t);
  const vm = randomUUID();
  const g = guest(t);
  const q = new QemuSocket(join(dir, 'a.sock'), g.port);
  await q.listen();
  t.teardown(() => q.close());
  const hv = new MemoryHypervisor();
  hv.add(vm, q.path);
  const first = host(t, hv);
  await first.m.start();
  for (let i = 0; i < 3; i++) await g.report();
  await waitFor('reports 1-3', () => first.seen.length === 3);
  const states = await first.m.stop();
  t.is(states.size, 1);
  await g.report();
  await g.report();
  const second = host(t, hv);
  second.m.restore(states);
  await second.m.start();
  await waitFor('reports 4 and 5', () => second.seen.length >= 2);
  await new Promise((r) => setTimeout(r, 100));
  t.deepEqual(second.numbers(), [4, 5]);
  t.is(second.m.counters.resumedFromHandover, 1);
});

test('a handed-over state for a VM whose start event was missed is used once the VM is found', async (t) => {
  const { vm, g, a, b, hvA, hvB, qA, qB } = await twoHosts(t);
  await runningOnA({ vm, g, a, b, hvA, qA });
  await qB.listen();
  hvB.add(vm, qB.path); // no "started" event reaches b
  await qA.close();
  await g.report();
  hvA.vms.delete(vm);
  hvA.fire(vm, 'stopped', 'migrated');
  await waitFor('report 2 at b', () => b.seen.length === 1);
  t.deepEqual(b.seen.map((r) => r.report.measured.value), [2]);
  t.is(b.m.counters.resumedFromHandover, 1);
});

test('a paused VM found by an inventory re-read is not given a new session while its own is elsewhere', async (t) => {
  const dir = await tempDir(t);
  const vm = randomUUID();
  const g = guest(t);
  const q = new QemuSocket(join(dir, 'b.sock'), g.port);
  await q.listen();
  t.teardown(() => q.close());
  const hv = new MemoryHypervisor();
  hv.add(vm, q.path, 'paused'); // an incoming migration whose "started" event was missed
  const h = host(t, hv);
  await h.m.start();
  hv.reconnected();
  await new Promise((r) => setTimeout(r, 100));
  t.is(h.m.session(vm), undefined);
  hv.fire(vm, 'resumed', 'migrated');
  await waitFor('waiting for the handover', () => h.m.store.isWaiting(vm));
});
