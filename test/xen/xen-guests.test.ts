// The dom0 guest-channel source (XenGuests as the guest channel manager's transport) against test
// xenstoreds and guests running the real agent over XenstoreConnector: reports become the same
// GuestEvents as on KVM, keyed by the VM of the guest's xenstore path; a Xen-style migration
// between two dom0s (each its own xenstored; the guest reconnects on the destination under a new
// domid) and a daemon restart lose and repeat nothing; hostile guests cannot reach another VM's
// session.
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { systemClock } from '../../src/adapters/clock.js';
import { HandoverClient, HandoverServer } from '../../src/adapters/guests/handover-endpoint.js';
import { GuestChannelManager } from '../../src/adapters/guests/manager.js';
import type { GuestEvents } from '../../src/adapters/guests/types.js';
import { XenGuests } from '../../src/adapters/guests/xen-guests.js';
import { connectXenstoreSocket } from '../../src/adapters/xen/connect.js';
import { acceptAnything, Channel } from '../../src/mchannel/index.js';
import type { SessionState } from '../../src/mchannel/state.js';
import { XenstoreConnector } from '../../src/mchannel/transports/xenstore.js';
import { unixConnector, unixListener } from '../../src/mchannel/transports/unix.js';
import { guestFamily } from '../../src/protocol/guest.js';
import { createRegistry } from '../../src/protocol/registry.js';
import { MemoryHypervisor } from '../guests/fixtures.js';
import { tempDir, waitFor, type Teardown } from '../support/proc.js';
import { startDom0, startXenGuest, type Dom0 } from './dom0-support.js';

const channel = { role: 'host', validator: createRegistry(guestFamily), heartbeatMs: 500, deadAfterMs: 10_000 } as const;
const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);

interface Host {
  readonly dom0: Dom0; readonly hv: MemoryHypervisor; readonly xen: XenGuests; readonly m: GuestChannelManager;
  readonly seen: GuestEvents['report'][]; readonly sessions: GuestEvents['session'][];
  values(): number[];
}

async function host(t: Teardown, o: { dom0?: Dom0; hv?: MemoryHypervisor; peer?: string; handover?: string; restore?: Map<string, SessionState> } = {}): Promise<Host> {
  const dom0 = o.dom0 ?? await startDom0(t);
  const hv = o.hv ?? new MemoryHypervisor();
  const xen = await XenGuests.start({ xenstoreSocket: dom0.xsd.socketPath, channel, clock: systemClock });
  t.teardown(() => xen.close());
  const m = new GuestChannelManager({
    hypervisor: hv, clock: systemClock, channel, transport: xen, handoverWaitMs: 20_000, lastReadWaitMs: 5000,
    handover: new HandoverClient(o.peer ? [{ name: 'peer', connector: unixConnector(o.peer) }] : [], systemClock, 5000),
  });
  const seen: GuestEvents['report'][] = [];
  const sessions: GuestEvents['session'][] = [];
  m.events.on('report', (e) => seen.push(e));
  m.events.on('session', (e) => sessions.push(e));
  t.teardown(() => m.stop());
  if (o.handover) {
    const server = new HandoverServer({ listener: await unixListener(o.handover), clock: systemClock, accept: (v, s, from) => m.receiveHandover(v, s, from) });
    t.teardown(() => server.close());
  }
  if (o.restore) m.restore(o.restore);
  return { dom0, hv, xen, m, seen, sessions, values: () => seen.map((r) => r.report.measured.value) };
}

/** A started host with one running VM in domain 7 whose guest has sent `first`. */
async function hostWithGuest(t: Teardown, first: number[]) {
  const h = await host(t);
  const vm = randomUUID();
  h.hv.add(vm, undefined);
  await h.m.start();
  const sock = await h.dom0.guestSocket(7, vm);
  const g = startXenGuest(t, async () => sock);
  for (const n of first) await g.report(n);
  return { h, vm, g };
}

test('a guest\'s reports over xenstore arrive as GuestEvents keyed by the VM of its domain, not by what it writes', async (t) => {
  const { h, vm } = await hostWithGuest(t, [1, 2, 3]);
  await waitFor('three reports', () => h.seen.length >= 3, 20_000);
  t.deepEqual(h.values(), [1, 2, 3]);
  t.true(h.seen.every((r) => r.vm === vm && !r.stale));
  t.true(h.sessions.some((s) => s.vm === vm && s.event === 'connected' && s.detail?.['domid'] === 7));
  t.is(h.xen.counters()['xenstore_connections'], 1);
});

test('a domain that is no running VM here gets no session, and a guest cannot claim another VM\'s session', async (t) => {
  const { h, vm, g } = await hostWithGuest(t, [1]);
  await waitFor('the VM\'s report', () => h.seen.length >= 1, 20_000);
  // Domain 8 has no vm node ("domid:8"); domain 9 names a VM that does not run here.
  const stranger = startXenGuest(t, () => h.dom0.guestSocket(8));
  const other = startXenGuest(t, () => h.dom0.guestSocket(9, randomUUID()));
  await stranger.report(99);
  await other.report(98);
  await waitFor('both refused', () => h.xen.counters()['guest_refused_not_admitted']! >= 2, 20_000);
  // Domain 10 (another VM running here) speaks for the VM's session id.
  const thiefVm = randomUUID();
  h.hv.add(thiefVm, undefined);
  h.hv.fire(thiefVm, 'started');
  const thiefSock = await h.dom0.guestSocket(10, thiefVm);
  const thief = Channel.client(new XenstoreConnector(() => connectXenstoreSocket(thiefSock)), { role: 'agent', validator: acceptAnything, sessionId: g.sessionId(), backoffMinMs: 20, backoffMaxMs: 200 });
  t.teardown(() => thief.detach());
  void thief.send('sla.report', { forged: true }).catch(() => undefined);
  await waitFor('the claim refused', () => h.xen.counters()['guest_refused_peer_mismatch']! >= 2, 20_000);
  await g.report(2);
  await waitFor('the VM\'s second report', () => h.seen.length >= 2, 20_000);
  t.deepEqual(h.values(), [1, 2]);
  t.true(h.seen.every((r) => r.vm === vm));
  t.is(h.m.session(thiefVm)?.sessionId, undefined, 'the thief\'s VM got no session');
});

test('reports streamed across a migration between two dom0s arrive exactly once, in order', async (t) => {
  const dir = await tempDir(t);
  const sock = { a: join(dir, 'a.sock'), b: join(dir, 'b.sock') };
  const a = await host(t, { peer: sock.b, handover: sock.a });
  const b = await host(t, { peer: sock.a, handover: sock.b });
  const vm = randomUUID();
  a.hv.add(vm, undefined);
  await a.m.start();
  await b.m.start();
  const onA = await a.dom0.guestSocket(5, vm);
  let target = onA;
  let gate: Promise<void> = Promise.resolve();
  const g = startXenGuest(t, async () => { await gate; return target; });
  let n = 0;
  for (; n < 5; n++) await g.report(n + 1);
  await waitFor('the first reports at a', () => a.seen.length >= 5, 20_000);

  // Destination: the toolstack creates the domain (paused) and libvirt says "started (migrated)".
  let resume!: () => void;
  gate = new Promise<void>((r) => { resume = r; });
  const onB = await b.dom0.guestSocket(12, vm);
  b.hv.add(vm, undefined);
  b.hv.fire(vm, 'started', 'migrated');
  // The guest keeps reporting while it moves; the source domain goes away.
  for (; n < 8; n++) await g.report(n + 1);
  a.dom0.xsd.fixture.releaseDomain(5);
  a.hv.vms.delete(vm);
  a.hv.fire(vm, 'stopped', 'migrated');
  await waitFor('b resumed the handed-over session', () => b.sessions.some((s) => s.event === 'resumed-from-handover'), 20_000);
  target = onB;
  resume();
  for (; n < 12; n++) await g.report(n + 1);
  await waitFor('every report', () => a.seen.length + b.seen.length >= 12, 30_000);
  t.deepEqual([...a.values(), ...b.values()], range(1, 12));
  t.true(b.seen.every((r) => r.vm === vm));
  t.is(a.m.counters.handedOff, 1);
  t.is(b.m.counters.resumedFromHandover, 1);
  t.is(b.m.counters.handoverTimeouts, 0);
});

test('a daemon restart resumes the xenstore sessions: nothing lost or repeated', async (t) => {
  const dom0 = await startDom0(t);
  const hv = new MemoryHypervisor();
  const first = await host(t, { dom0, hv });
  const vm = randomUUID();
  hv.add(vm, undefined);
  await first.m.start();
  const sock = await dom0.guestSocket(3, vm);
  const g = startXenGuest(t, async () => sock);
  for (const n of [1, 2, 3]) await g.report(n);
  await waitFor('three reports', () => first.seen.length >= 3, 20_000);
  const states = await first.m.stop();
  await first.xen.close();
  t.is(states.size, 1);
  for (const n of [4, 5]) await g.report(n); // sent while no daemon runs
  const second = await host(t, { dom0, hv, restore: new Map(JSON.parse(JSON.stringify([...states])) as [string, SessionState][]) });
  await second.m.start();
  await g.report(6);
  await waitFor('the reports after the restart', () => second.seen.length >= 3, 30_000);
  t.deepEqual([...first.values(), ...second.values()], range(1, 6));
  t.is(second.m.counters.resumedFromHandover, 1);
});
