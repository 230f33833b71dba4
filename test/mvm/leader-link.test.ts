// The host's leader link against a leader played by a real ChannelServer on a unix socket:
// registration with capacity/power/reliability/trust, periodic updates, budgets, commands and
// migration requests; budgets and commands with a fencing token older than the newest are refused.
import test from 'ava';
import { join } from 'node:path';
import { pino } from 'pino';
import { systemClock } from '../../src/adapters/clock.js';
import { LeaderLink } from '../../src/adapters/leader-link/link.js';
import { Channel, ChannelServer, unixConnector, unixListener } from '../../src/mchannel/index.js';
import { leaderFamily, type HostRegister, type HostUpdate } from '../../src/protocol/leader.js';
import { createRegistry } from '../../src/protocol/registry.js';
import { tempDir, waitFor, type Teardown } from '../support/proc.js';

const log = pino({ level: 'silent' });
const VM = '6f1c1f0e-4f0c-4c4e-9a51-2f6c3c1d0a11';
const registration: HostRegister = { host: 'h1', cpus: 8, memoryKiB: 16 << 20, power: { idleWatts: 100, peakWatts: 250, measured: false }, reliability: 0.97, trust: 'trusted', frequency: { minKHz: 800_000, maxKHz: 3_900_000 } };
const update = (): HostUpdate => ({ ts: Date.now(), watts: 150, budgetWatts: 200, budgetSource: 'config', capKHz: 2_000_000, vms: [{ uuid: VM, cpuUtil: 0.5, sla: 'ok' }], reliability: 0.97 });

async function setup(t: Teardown, token = 7) {
  const path = join(await tempDir(t), 'leader.sock');
  const server = new ChannelServer(await unixListener(path), { role: 'leader', validator: createRegistry(leaderFamily) });
  t.teardown(() => server.close({ endSessions: true }));
  const seen = { registers: [] as unknown[], updates: [] as unknown[], migrations: [] as unknown[] };
  let leaderCh: Channel | undefined;
  server.events.on('channel', (ch: Channel) => {
    leaderCh = ch;
    ch.handle('host.register', (b) => { seen.registers.push(b); return { accepted: true, token }; });
    ch.handle('host.migration-request', (b) => { seen.migrations.push(b); return { accepted: true }; });
    void (async () => { for await (const m of ch) if (m.kind === 'host.update') seen.updates.push(m.body); })();
  });
  const budgets: number[] = [];
  const conn: boolean[] = [];
  const link = new LeaderLink({
    connector: unixConnector(path), host: 'h1', clock: systemClock, log, updateMs: 50, registration: () => registration, update,
    onBudget: (w) => budgets.push(w), onConnection: (c) => conn.push(c),
  });
  t.teardown(() => link.stop());
  await waitFor('registration', () => link.registered);
  return { link, seen, budgets, conn, leader: () => leaderCh! };
}

test('the host registers with capacity, power model, reliability and trust, then sends periodic updates', async (t) => {
  const { link, seen, conn } = await setup(t);
  t.deepEqual(seen.registers, [registration]);
  t.deepEqual(conn, [true]);
  t.is(link.newestToken, 7);
  await waitFor('3 updates', () => seen.updates.length >= 3);
  t.is((seen.updates[0] as HostUpdate).budgetWatts, 200);
});

test('budgets with the current or a newer token apply; an older token is refused and counted', async (t) => {
  const { link, budgets, leader } = await setup(t);
  await leader().send('leader.budget', { token: 7, watts: 180 });
  await leader().send('leader.budget', { token: 6, watts: 999 });
  await leader().send('leader.budget', { token: 8, watts: 170 });
  await leader().send('leader.budget', { token: 7, watts: 998 });
  await waitFor('budgets', () => budgets.length >= 2 && link.counters.staleTokens >= 2);
  t.deepEqual(budgets, [180, 170]);
  t.is(link.newestToken, 8);
});

test('a command from a deposed leader is refused with the reason; a current one is done', async (t) => {
  const { leader, seen } = await setup(t, 10);
  t.deepEqual(await leader().request('leader.command', { token: 9, op: 'update-now' }), { done: false, reason: 'fencing token 9 is older than 10' });
  const before = seen.updates.length;
  t.deepEqual(await leader().request('leader.command', { token: 10, op: 'update-now' }), { done: true });
  await waitFor('the update', () => seen.updates.length > before);
});

test('a migration request reaches the leader; without a connection it fails plainly', async (t) => {
  const { link, seen } = await setup(t);
  await link.requestMigration(VM, 12.5, 'budget violations');
  t.deepEqual(seen.migrations, [{ vm: VM, shedWatts: 12.5, reason: 'budget violations' }]);
  const lonely = new LeaderLink({
    connector: unixConnector(join(await tempDir(t), 'nobody.sock')), host: 'h1', clock: systemClock, log, updateMs: 1000,
    registration: () => registration, update, onBudget: () => {}, onConnection: () => {},
  });
  t.teardown(() => lonely.stop());
  await t.throwsAsync(lonely.requestMigration(VM, 1, 'x'), { code: 'UNAVAILABLE' });
});

test('a malformed budget from the leader is refused at the boundary, not applied', async (t) => {
  const { budgets, leader, link } = await setup(t);
  await t.throwsAsync(leader().send('leader.budget', { token: 7, watts: -5 }));
  await leader().send('leader.budget', { token: 7, watts: 150 });
  await waitFor('the good budget', () => budgets.length >= 1);
  t.deepEqual(budgets, [150]);
  t.is(link.counters.staleTokens, 0);
});

test('migrate, abort-migration and power-off reach the host\'s handlers; a deposed leader\'s migrate does not', async (t) => {
  const path = join(await tempDir(t), 'leader.sock');
  const server = new ChannelServer(await unixListener(path), { role: 'leader', validator: createRegistry(leaderFamily) });
  t.teardown(() => server.close({ endSessions: true }));
  const statuses: unknown[] = [];
  let leader: Channel | undefined;
  server.events.on('channel', (ch: Channel) => {
    leader = ch;
    ch.handle('host.register', () => ({ accepted: true, token: 4 }));
    void (async () => { for await (const m of ch) if (m.kind === 'host.migration-status') statuses.push(m.body); })();
  });
  const calls: string[] = [];
  const link = new LeaderLink({
    connector: unixConnector(path), host: 'h1', clock: systemClock, log, updateMs: 60_000, registration: () => registration, update,
    onBudget: () => {}, onConnection: () => {},
    commands: {
      migrate: (c) => { calls.push(`migrate ${c.vm} ${c.to} ${c.migrationId}`); return { done: true }; },
      abortMigration: (c) => { calls.push(`abort ${c.migrationId}`); return { done: false, reason: 'not migrating' }; },
      powerOff: async () => { calls.push('power-off'); throw new Error('logind is not there'); },
    },
  });
  t.teardown(() => link.stop());
  await waitFor('registration', () => link.registered);
  const cmd = { op: 'migrate', vm: VM, to: 'h2', destinationUri: 'qemu+tls://h2/system', migrationId: 9 };
  t.deepEqual(await leader!.request('leader.command', { token: 3, ...cmd }), { done: false, reason: 'fencing token 3 is older than 4' });
  t.deepEqual(await leader!.request('leader.command', { token: 4, ...cmd }), { done: true });
  t.deepEqual(await leader!.request('leader.command', { token: 4, op: 'abort-migration', vm: VM, migrationId: 9 }), { done: false, reason: 'not migrating' });
  t.deepEqual(await leader!.request('leader.command', { token: 4, op: 'power-off' }), { done: false, reason: 'power-off failed: logind is not there' });
  t.deepEqual(calls, [`migrate ${VM} h2 9`, 'abort 9', 'power-off']);
  t.like(link.counters, { staleTokens: 1, commands: 3, commandsRefused: 2 });
  await link.migrationStatus({ migrationId: 9, vm: VM, to: 'h2', state: 'running', progress: 0.5, elapsedMs: 1000 });
  await link.migrationStatus({ migrationId: 9, vm: VM, to: 'h2', state: 'succeeded', elapsedMs: 2000 });
  await waitFor('the statuses at the leader', () => statuses.length >= 2);
  t.deepEqual(statuses.map((s) => (s as { state: string }).state), ['running', 'succeeded']);
});

test('a host without command handlers refuses migrate and power-off plainly', async (t) => {
  const { leader } = await setup(t);
  t.deepEqual(await leader().request('leader.command', { token: 7, op: 'power-off' }), { done: false, reason: 'power-off is not supported by this host' });
});
