// A guest that answers slowly, or not at all: once a guest has answered, the host's session gives
// it more time after each unanswered connection (a reconnect makes QEMU discard what the guest
// queued, so a fixed deadline shorter than its answer time would never be met) and says once
// that it went silent; a guest never heard of is retried at the base rate and not reported.
// Real agent (createAgentLink + Agent) on the port model of fixtures.ts; the guest's input is
// delayed to model a guest slower than the host's deadline.
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { systemClock } from '../../src/adapters/clock.js';
import { GuestChannelManager } from '../../src/adapters/guests/manager.js';
import type { GuestEvents } from '../../src/adapters/guests/types.js';
import { HANDSHAKE_PATIENCE, UNRESPONSIVE_AFTER } from '../../src/adapters/guests/vm-session.js';
import { Agent, type AgentTimers } from '../../src/daemons/agent/agent.js';
import { parseConfig } from '../../src/daemons/agent/config.js';
import { createAgentLink } from '../../src/daemons/agent/link.js';
import { createLogger } from '../../src/daemons/agent/log.js';
import { guestFamily } from '../../src/protocol/guest.js';
import { createRegistry } from '../../src/protocol/registry.js';
import { tempDir, waitFor, type Teardown } from '../support/proc.js';
import { GuestPort, MemoryHypervisor, QemuSocket } from './fixtures.js';

const quiet = createLogger('error');
const noTimers: AgentTimers = { every: () => ({ cancel: () => {} }), now: () => Date.now() };
const DEAD_MS = 400;

/** A guest whose agent sees what the host wrote only delay.ms later (Infinity: never). */
function slowGuest(t: Teardown, delay: { ms: number }) {
  const port = new GuestPort();
  const cfg = parseConfig({ objectives: [{ name: 'n', source: 'push', op: '>=', target: 0, staleMs: 600_000 }] });
  const link = createAgentLink(cfg, quiet);
  const agent = new Agent(cfg, link, quiet, noTimers);
  const timers = new Set<NodeJS.Timeout>();
  const delayed = new Duplex({ read: () => {}, write: (chunk: Buffer, _enc, cb) => { port.guest.write(chunk); cb(); } });
  port.guest.on('data', (d: Buffer) => {
    if (!Number.isFinite(delay.ms)) return;
    const h = setTimeout(() => { timers.delete(h); delayed.push(d); }, delay.ms);
    timers.add(h);
  });
  link.attach({ stream: delayed, peer: { transport: 'chardev', id: 'host' } });
  t.teardown(() => { for (const h of timers) clearTimeout(h); link.channel.detach(); });
  return { port, agent };
}

async function hostFor(t: Teardown, port: GuestPort) {
  const dir = await tempDir(t);
  const vm = randomUUID();
  const q = new QemuSocket(join(dir, 'vm.sock'), port);
  await q.listen();
  t.teardown(() => q.close());
  const hv = new MemoryHypervisor();
  hv.add(vm, q.path);
  const m = new GuestChannelManager({
    hypervisor: hv, clock: systemClock,
    channel: { role: 'host', validator: createRegistry(guestFamily), heartbeatMs: 100, deadAfterMs: DEAD_MS, backoffMinMs: 10, backoffMaxMs: 50 },
  });
  const sessions: GuestEvents['session'][] = [];
  const reports: number[] = [];
  m.events.on('session', (e) => sessions.push(e));
  m.events.on('report', (e) => reports.push(e.report.measured.value));
  t.teardown(() => m.stop());
  await m.start();
  return { m, vm, sessions, reports };
}

/** A guest that answered once, then goes silent (its kernel or agent died). */
async function silencedGuest(t: Teardown) {
  const delay = { ms: 0 };
  const g = slowGuest(t, delay);
  const h = await hostFor(t, g.port);
  await waitFor('the session to connect', () => h.sessions.some((s) => s.event === 'connected'), 30_000, 20);
  const mark = h.sessions.length;
  delay.ms = Infinity;
  return { g, h, delay, after: () => h.sessions.slice(mark) };
}

test('a known guest slower to answer than the dead-peer time is reached: each unanswered connection waits longer', async (t) => {
  const { g, h, delay, after } = await silencedGuest(t);
  // 1.5 x the first deadline: the first new connection is cut off, the second (2 x) is answered.
  delay.ms = DEAD_MS * 1.5;
  const connected = await waitFor('the session to connect again', () => after().find((s) => s.event === 'connected'), 30_000, 20);
  t.true(Number(connected.detail?.['afterUnanswered']) >= 1, JSON.stringify(connected));
  g.agent.push.put('n', 7);
  await g.agent.report();
  await waitFor('the report', () => h.reports.includes(7), 30_000, 20);
  t.false(h.sessions.some((s) => s.event === 'unresponsive'), 'one late answer is not unresponsive');
});

test('a guest never heard of is retried at the base rate (an early hello may be lost while it boots)', async (t) => {
  const g = slowGuest(t, { ms: Infinity });
  const h = await hostFor(t, g.port);
  const waits = (): number[] => h.sessions.filter((s) => s.event === 'disconnected').map((s) => Number(/for (\d+) ms/.exec(String(s.detail?.['reason']))?.[1]));
  await waitFor('more unanswered connections than the threshold', () => waits().length > UNRESPONSIVE_AFTER, 60_000, 20);
  // No doubling (the third wait would be 4 x): every wait is the base one, plus late timers.
  t.true(waits().every((ms) => ms >= DEAD_MS && ms < 3 * DEAD_MS), waits().join(', '));
  t.false(h.sessions.some((s) => s.event === 'unresponsive'), 'not reported unresponsive');
  t.is(h.m.counters.unresponsive, 0);
});

test('a guest that stops answering is reported unresponsive once, and the waits stop growing at the cap', async (t) => {
  const { h, after } = await silencedGuest(t);
  // How long each unanswered connection waited (its PEER_DEAD reason: "nothing received for N ms");
  // the first disconnect ends the connection the guest had answered.
  const waits = (): number[] => after().filter((s) => s.event === 'disconnected').slice(1).map((s) => Number(/for (\d+) ms/.exec(String(s.detail?.['reason']))?.[1]));
  await waitFor('the guest reported unresponsive', () => after().some((s) => s.event === 'unresponsive'), 60_000, 20);
  t.is(waits().length, UNRESPONSIVE_AFTER);
  t.like(after().find((s) => s.event === 'unresponsive')?.detail, { attempts: UNRESPONSIVE_AFTER });
  await waitFor('two more unanswered connections', () => waits().length >= UNRESPONSIVE_AFTER + 2, 60_000, 20);
  const w = waits();
  // Each wait doubles (timers may fire late, never early) until the cap...
  const cap = HANDSHAKE_PATIENCE * DEAD_MS;
  w.forEach((ms, i) => t.true(ms >= Math.min(cap, DEAD_MS * 2 ** i), `wait ${i + 1}: ${ms} ms (all: ${w.join(', ')})`));
  // ...and not beyond it (a doubling past the cap would wait 2 x cap).
  t.true(w.slice(3).every((ms) => ms < 2 * cap), `waits after the cap: ${w.slice(3).join(', ')} ms`);
  t.is(h.sessions.filter((s) => s.event === 'unresponsive').length, 1, 'said once');
  t.is(h.m.counters.unresponsive, 1);
});

test('a guest that answers again after being unresponsive is connected again', async (t) => {
  const { h, delay, after } = await silencedGuest(t);
  await waitFor('unresponsive', () => after().some((s) => s.event === 'unresponsive'), 60_000, 20);
  delay.ms = 0;
  const c = await waitFor('connected', () => after().find((s) => s.event === 'connected'), 60_000, 20);
  t.true(Number(c.detail?.['afterUnanswered']) >= UNRESPONSIVE_AFTER);
  t.true(h.m.session(h.vm)?.connected);
});
