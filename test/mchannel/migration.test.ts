import test from 'ava';
import fc from 'fast-check';
import { Channel, acceptAnything, memoryPair, type Connection, type Connector, type Incoming } from '../../src/mchannel/index.js';
import { until } from './helpers.js';
import type { Duplex } from 'node:stream';

/**
 * A stand-in for QEMU's virtio-serial chardev socket: the guest end stays open; host clients come
 * and go; what the guest writes while no host is connected is held and given to the next host
 * client first (observed QEMU behaviour, notes/real-peers.md).
 */
function virtioPort(): { guest: Connector; connectHost(): Connection; cutHost(): void } {
  const [guestConn, relayGuest] = memoryPair('host', 'guest');
  const held: Buffer[] = [];
  let host: Duplex | undefined;
  let hostEnd: Connection | undefined;
  relayGuest.stream.on('data', (b: Buffer) => {
    if (host && !host.destroyed) host.write(b);
    else held.push(b);
  });
  return {
    guest: { kind: 'memory', target: 'vport', connect: async () => guestConn },
    connectHost(): Connection {
      const [hostConn, relayHost] = memoryPair('qemu', 'vm-1');
      host = relayHost.stream;
      hostEnd = hostConn;
      for (const b of held.splice(0)) relayHost.stream.write(b);
      relayHost.stream.on('data', (b: Buffer) => relayGuest.stream.write(b));
      relayHost.stream.on('error', () => {});
      return hostConn;
    },
    cutHost(): void {
      hostEnd?.stream.destroy();
    },
  };
}

function collect(ch: Channel): Incoming[] {
  const out: Incoming[] = [];
  void (async () => { for await (const m of ch) out.push(m); })();
  return out;
}

const base = { validator: acceptAnything, deadAfterMs: 60_000, heartbeatMs: 30_000 };

test('a session exported on one host and resumed on another continues exactly once, flagging held lines stale', async (t) => {
  const port = virtioPort();
  const guest = Channel.client(port.guest, { ...base, role: 'agent' });
  const hostA = Channel.attached({ ...base, role: 'host' });
  t.teardown(async () => { await guest.close(); await hostA.close(); });
  hostA.attach(port.connectHost(), { initiate: true });
  await guest.whenConnected();
  const atA = collect(hostA);
  const atGuest = collect(guest);
  for (let i = 0; i < 5; i++) await guest.send('sla.report', { i });
  await hostA.send('host.config', { n: 1 });
  await until('A got 5', () => atA.length === 5);
  await until('guest got config', () => atGuest.length === 1);

  // Migration: the source host hands the session over as JSON (it crosses hosts as text).
  const state = JSON.parse(JSON.stringify(hostA.detach()));
  for (let i = 5; i < 10; i++) await guest.send('sla.report', { i }); // held by "QEMU"

  const hostB = Channel.attached({ ...base, role: 'host', state });
  t.teardown(() => hostB.close());
  const atB = collect(hostB);
  hostB.attach(port.connectHost(), { initiate: true });
  await until('B got the held lines', () => atB.length === 5);
  await guest.send('sla.report', { i: 10 });
  await hostB.send('host.config', { n: 2 });
  await until('B got the new line', () => atB.length === 6);
  await until('guest got the second config', () => atGuest.length === 2);

  t.deepEqual(atA.map((m) => (m.body as { i: number }).i), [0, 1, 2, 3, 4]);
  t.deepEqual(atB.map((m) => (m.body as { i: number }).i), [5, 6, 7, 8, 9, 10]);
  t.deepEqual(atB.map((m) => m.stale), [true, true, true, true, true, false]);
  t.is(hostB.counters.stale, 5);
  t.deepEqual(atGuest.map((m) => (m.body as { n: number }).n), [1, 2]);
  t.deepEqual(atGuest.map((m) => m.seq), [1, 2]);
  t.is(hostB.sessionId, guest.sessionId);
  t.is(hostB.counters.gaps + guest.counters.gaps, 0);
});

test('a host that attaches without state adopts the guest session', async (t) => {
  const port = virtioPort();
  const guest = Channel.client(port.guest, { ...base, role: 'agent' });
  const host = Channel.attached({ ...base, role: 'host' });
  t.teardown(async () => { await guest.close(); await host.close(); });
  const resets: unknown[] = [];
  host.events.on('reset', (r) => resets.push(r));
  host.attach(port.connectHost(), { initiate: true });
  await guest.whenConnected();
  await host.whenConnected();
  t.is(host.sessionId, guest.sessionId);
  t.deepEqual(resets, []);
  const got = collect(host);
  await guest.send('agent.hello', { version: '1' });
  await until('delivered', () => got.length === 1);
  t.false(got[0]?.stale);
});

test('an imported state that is not valid is refused with INVALID_INPUT naming the problems', (t) => {
  const err = t.throws(() => Channel.attached({ ...base, role: 'host', state: { version: 1, sessionId: '', nextSeq: 0 } as never }));
  t.is((err as { code?: string }).code, 'INVALID_INPUT');
  t.regex(err?.message ?? '', /sessionId/);
  t.regex(err?.message ?? '', /nextSeq/);
});

test('replay entries survive export and import: unacknowledged messages are resent after resume', async (t) => {
  const port = virtioPort();
  const guest = Channel.client(port.guest, { ...base, role: 'agent' });
  const hostA = Channel.attached({ ...base, role: 'host' });
  t.teardown(async () => { await guest.close(); await hostA.close(); });
  hostA.attach(port.connectHost(), { initiate: true });
  await guest.whenConnected();
  const atGuest = collect(guest);
  // The host queues messages while its connection is gone: they stay in its replay buffer.
  const state0 = hostA.detach();
  const hostA2 = Channel.attached({ ...base, role: 'host', state: state0 });
  await hostA2.send('host.config', { n: 1 });
  await hostA2.send('host.config', { n: 2 });
  const state = hostA2.detach();
  t.is(state.replay.length, 2);
  const hostB = Channel.attached({ ...base, role: 'host', state });
  t.teardown(() => hostB.close());
  hostB.attach(port.connectHost(), { initiate: true });
  await until('guest got both', () => atGuest.length === 2);
  t.deepEqual(atGuest.map((m) => (m.body as { n: number }).n), [1, 2]);
});

test('host as client of the VM socket, guest attached to its port: migration delivers held lines once, stale first', async (t) => {
  const port = virtioPort();
  const guest = Channel.attached({ ...base, role: 'agent' });
  t.teardown(() => guest.close());
  guest.attach(await port.guest.connect(), { initiate: false });
  const hostConnector: Connector = { kind: 'memory', target: 'vm-1.sock', connect: async () => port.connectHost() };
  const hostA = Channel.client(hostConnector, { ...base, role: 'host' });
  t.teardown(() => hostA.close());
  await hostA.whenConnected();
  await guest.whenConnected();
  const atA = collect(hostA);
  for (let i = 0; i < 3; i++) await guest.send('sla.report', { i });
  await until('A got 3', () => atA.length === 3);
  const state = JSON.parse(JSON.stringify(hostA.detach()));
  for (let i = 3; i < 6; i++) await guest.send('sla.report', { i });
  const hostB = Channel.client(hostConnector, { ...base, role: 'host', state });
  t.teardown(() => hostB.close());
  const atB = collect(hostB);
  await until('B got the held lines', () => atB.length === 3);
  await guest.send('sla.report', { i: 6 });
  await until('B got the next one', () => atB.length === 4);
  t.deepEqual(atB.map((m) => [(m.body as { i: number }).i, m.stale]), [[3, true], [4, true], [5, true], [6, false]]);
  t.is(guest.sessionId, hostB.sessionId);
  t.is(guest.counters.gaps + hostB.counters.gaps, 0);
});

const stats: number[][] = [];
type Step = { guestSends: number } | { hostSends: number } | { cut: true } | { migrate: true } | { tick: true };
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 20 }).map((n) => ({ guestSends: n })) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 10 }).map((n) => ({ hostSends: n })) },
  { weight: 1, arbitrary: fc.constant({ cut: true as const }) },
  { weight: 2, arbitrary: fc.constant({ migrate: true as const }) },
  { weight: 2, arbitrary: fc.constant({ tick: true as const }) },
);

test('migrations and disconnects at random points never lose, duplicate or reorder a message', async (t) => {
  await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 20 }), async (steps) => {
    const port = virtioPort();
    const opts = { ...base, backoffMinMs: 1, backoffMaxMs: 4 };
    const guest = Channel.attached({ ...opts, role: 'agent' });
    guest.attach(await port.guest.connect(), { initiate: false });
    const connector: Connector = { kind: 'memory', target: 'vm', connect: async () => port.connectHost() };
    let host = Channel.client(connector, { ...opts, role: 'host' });
    const atHosts: number[] = [];
    const atGuest: number[] = [];
    const drain = (ch: Channel, into: number[]): void => {
      void (async () => { for await (const m of ch) into.push((m.body as { i: number }).i); })();
    };
    drain(host, atHosts);
    drain(guest, atGuest);
    let g = 0;
    let h = 0;
    const pending: Promise<void>[] = [];
    try {
      await host.whenConnected();
      for (const s of steps) {
        if ('guestSends' in s) for (let k = 0; k < s.guestSends; k++) pending.push(guest.send('x.y', { i: g++ }));
        else if ('hostSends' in s) for (let k = 0; k < s.hostSends; k++) pending.push(host.send('x.y', { i: h++ }));
        else if ('cut' in s) port.cutHost();
        else if ('migrate' in s) {
          const state = JSON.parse(JSON.stringify(host.detach()));
          host = Channel.client(connector, { ...opts, role: 'host', state });
          drain(host, atHosts);
        } else await new Promise((r) => setTimeout(r, 1));
      }
      await Promise.allSettled(pending);
      await until('all delivered', () => atHosts.length >= g && atGuest.length >= h, 10_000);
      await new Promise((r) => setTimeout(r, 5));
      stats.push([g, h, steps.filter((x) => 'migrate' in x).length]);
      const same = (a: number[], n: number): boolean => a.length === n && a.every((v, i) => v === i);
      return same(atHosts, g) && same(atGuest, h) && host.counters.gaps === 0 && guest.counters.gaps === 0;
    } finally {
      await host.close();
      await guest.close();
    }
  }), { numRuns: 25 });
  // Not vacuous: some runs carried messages across migrations.
  t.true(stats.some(([sent, , migrations]) => (sent ?? 0) > 0 && (migrations ?? 0) > 0));
});
