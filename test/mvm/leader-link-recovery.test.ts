// The host's leader link recovers by itself, against leaders played by real ChannelServers on unix
// sockets: a registration that times out or fails is retried on the same session; a session the
// leader ends (bye) is replaced by a new one after a pause that grows while the leader keeps ending
// them (two hosts claiming one name); a registration answered with a token
// older than the newest seen comes from a deposed leader: counted, closed, next endpoint.
import test from 'ava';
import { join } from 'node:path';
import { pino } from 'pino';
import { systemClock } from '../../src/adapters/clock.js';
import { LeaderLink } from '../../src/adapters/leader-link/link.js';
import { Channel, ChannelServer, unixConnector, unixListener } from '../../src/mchannel/index.js';
import { leaderFamily, type HostRegister, type HostRegisterReply, type HostUpdate } from '../../src/protocol/leader.js';
import { createRegistry } from '../../src/protocol/registry.js';
import { tempDir, waitFor, type Teardown } from '../support/proc.js';

const log = pino({ level: 'silent' });
const registration: HostRegister = { host: 'h1', cpus: 8, memoryKiB: 16 << 20, power: { idleWatts: 100, peakWatts: 250, measured: false }, reliability: 1, trust: 'trusted', frequency: { minKHz: 800_000, maxKHz: 3_900_000 } };
const update = (): HostUpdate => ({ ts: Date.now(), budgetWatts: 200, budgetSource: 'config', capKHz: 2_000_000, vms: [], reliability: 1 });

/** Answers the n-th registration (0-based) on channel `ch`. */
type Answer = (n: number, ch: Channel) => HostRegisterReply | Promise<HostRegisterReply>;

interface FakeLeader { readonly path: string; registers: number; readonly channels: Channel[]; close(): Promise<void> }

async function leaderAt(t: Teardown, path: string, answer: Answer): Promise<FakeLeader> {
  const server = new ChannelServer(await unixListener(path), { role: 'leader', validator: createRegistry(leaderFamily) });
  const me: FakeLeader = { path, registers: 0, channels: [], close: () => server.close() };
  t.teardown(() => server.close({ endSessions: true }));
  server.events.on('channel', (ch: Channel) => {
    me.channels.push(ch);
    ch.handle('host.register', () => answer(me.registers++, ch));
    void (async () => { for await (const m of ch) void m; })();
  });
  return me;
}

function link(t: Teardown, paths: string[]): LeaderLink {
  const l = new LeaderLink({
    connector: paths.map((p) => unixConnector(p)), host: 'h1', clock: systemClock, log, updateMs: 60_000, registration: () => registration, update,
    onBudget: () => {}, onConnection: () => {}, refusedPauseMs: 50, endedPauseMs: 50, registerTimeoutMs: 150, registerRetryMs: 20, registerRetryMaxMs: 100,
  });
  t.teardown(() => l.stop());
  return l;
}

const NEVER = new Promise<HostRegisterReply>(() => {});
const firstFails: [string, Answer][] = [
  ['is not answered in time', (n) => (n === 0 ? NEVER : { accepted: true, token: 4 })],
  ['fails at the leader', (n) => { if (n === 0) throw new Error('store busy'); return { accepted: true, token: 4 }; }],
];
for (const [how, answer] of firstFails) {
  test(`a registration that ${how} is retried on the same session until it succeeds`, async (t) => {
    const leader = await leaderAt(t, join(await tempDir(t), 'leader.sock'), answer);
    const l = link(t, [leader.path]);
    await waitFor('registration after a retry', () => l.registered, 10_000);
    t.is(leader.registers, 2);
    t.is(leader.channels.length, 1, 'the same session');
    t.is(l.counters.registrationFailures, 1);
    t.is(l.newestToken, 4);
  });
}

test('a session the leader ends with a bye is replaced by a new one that registers', async (t) => {
  const leader = await leaderAt(t, join(await tempDir(t), 'leader.sock'), (n, ch) => {
    if (n > 0) return { accepted: true, token: 4 };
    setImmediate(() => void ch.close());
    return { accepted: false, token: 4, reason: 'host h1 is already connected' };
  });
  const l = link(t, [leader.path]);
  await waitFor('registration on a new session', () => l.registered, 10_000);
  t.is(leader.channels.length, 2);
  t.is(leader.registers, 2);
  t.is(l.counters.sessionsEnded, 1);
  t.is(l.counters.registrations, 1);
});

test('two hosts claiming one name take turns ever more slowly, not in a loop', async (t) => {
  // The leader keeps the newest session of a name and ends the other (as host-link.ts does).
  let holder: Channel | undefined;
  const leader = await leaderAt(t, join(await tempDir(t), 'leader.sock'), (_n, ch) => {
    if (holder && holder !== ch) { const old = holder; setImmediate(() => void old.close()); }
    holder = ch;
    return { accepted: true, token: 4 };
  });
  const a = link(t, [leader.path]);
  const b = link(t, [leader.path]);
  await new Promise((r) => setTimeout(r, 1000));
  const ends = a.counters.sessionsEnded + b.counters.sessionsEnded;
  // Pauses of 50, 100, 200, 400 ms... per link: a few ends a second at most, not hundreds.
  t.true(ends >= 2 && ends <= 12, `${ends} sessions ended in 1 s`);
  t.true(leader.registers <= ends + 2);
});

test('a registration answered with an older token is a deposed leader: counted, closed, and the next endpoint is tried', async (t) => {
  const dir = await tempDir(t);
  const newPath = join(dir, 'new.sock');
  let current = await leaderAt(t, newPath, () => ({ accepted: true, token: 9 }));
  const old = await leaderAt(t, join(dir, 'old.sock'), () => ({ accepted: true, token: 3 }));
  const l = link(t, [newPath, old.path]);
  await waitFor('registration with the current leader', () => l.registered && l.newestToken === 9, 10_000);
  await current.close();
  await waitFor('the deposed leader refused twice', () => l.counters.deposed >= 2, 10_000);
  t.false(l.registered);
  t.is(l.newestToken, 9);
  t.is(l.counters.notLeader, 0);
  t.true(l.counters.staleTokens >= 2);
  t.true(old.channels.length >= 2, 'each deposed answer closed that session');
  current = await leaderAt(t, newPath, () => ({ accepted: true, token: 10 }));
  await waitFor('registration with the current leader again', () => l.registered && l.newestToken === 10, 20_000);
  t.is(l.target, newPath);
});
