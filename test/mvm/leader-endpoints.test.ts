// Several leader endpoints (the leader and its standbys), each a real ChannelServer on a unix
// socket: an endpoint nobody listens on is skipped, a standby that answers "not the leader" makes
// the host close that session and register with the next one; the end of a migration reported
// while no leader was registered is delivered after the next registration; the mvm config's
// endpoint / endpoints forms.
import test from 'ava';
import { join } from 'node:path';
import { pino } from 'pino';
import { systemClock } from '../../src/adapters/clock.js';
import { LeaderLink } from '../../src/adapters/leader-link/link.js';
import { leaderEndpoints, parseMvmConfig } from '../../src/daemons/mvm/config.js';
import { Channel, ChannelServer, unixConnector, unixListener } from '../../src/mchannel/index.js';
import { leaderFamily, type HostRegister, type HostUpdate, type MigrationStatus } from '../../src/protocol/leader.js';
import { createRegistry } from '../../src/protocol/registry.js';
import { tempDir, waitFor, type Teardown } from '../support/proc.js';

const log = pino({ level: 'silent' });
const VM = '6f1c1f0e-4f0c-4c4e-9a51-2f6c3c1d0a11';
const registration: HostRegister = { host: 'h1', cpus: 8, memoryKiB: 16 << 20, power: { idleWatts: 100, peakWatts: 250, measured: false }, reliability: 1, trust: 'trusted', frequency: { minKHz: 800_000, maxKHz: 3_900_000 } };
const update = (): HostUpdate => ({ ts: Date.now(), budgetWatts: 200, budgetSource: 'config', capKHz: 2_000_000, vms: [], reliability: 1 });

interface FakeLeader { readonly path: string; registers: number; readonly statuses: MigrationStatus[]; leading: boolean; channels: Channel[] }

async function leaderAt(t: Teardown, dir: string, name: string, leading: boolean): Promise<FakeLeader> {
  const path = join(dir, `${name}.sock`);
  const server = new ChannelServer(await unixListener(path), { role: 'leader', validator: createRegistry(leaderFamily) });
  t.teardown(() => server.close({ endSessions: true }));
  const me: FakeLeader = { path, registers: 0, statuses: [], leading, channels: [] };
  server.events.on('channel', (ch: Channel) => {
    me.channels.push(ch);
    ch.handle('host.register', () => {
      me.registers++;
      return me.leading ? { accepted: true, token: 2 } : { accepted: false, token: 1, reason: `${name} is not the leader` };
    });
    void (async () => { for await (const m of ch) if (m.kind === 'host.migration-status') me.statuses.push(m.body as MigrationStatus); })();
  });
  return me;
}

function link(t: Teardown, paths: string[]): LeaderLink {
  const l = new LeaderLink({
    connector: paths.map((p) => unixConnector(p)), host: 'h1', clock: systemClock, log, updateMs: 60_000, registration: () => registration, update,
    onBudget: () => {}, onConnection: () => {}, refusedPauseMs: 50,
  });
  t.teardown(() => l.stop());
  return l;
}

test('an endpoint nobody listens on is skipped for the next one', async (t) => {
  const dir = await tempDir(t);
  const standby = await leaderAt(t, dir, 'b', true);
  const l = link(t, [join(dir, 'gone.sock'), standby.path]);
  await waitFor('registration at the second endpoint', () => l.registered, 10_000);
  t.is(standby.registers, 1);
  t.true(l.endpoints.failures[0]! >= 1);
});

test('"not the leader" closes that session and the host registers with the next endpoint', async (t) => {
  const dir = await tempDir(t);
  const standby = await leaderAt(t, dir, 'a', false);
  const leader = await leaderAt(t, dir, 'b', true);
  const l = link(t, [standby.path, leader.path]);
  await waitFor('registration with the leader', () => l.registered, 10_000);
  t.is(standby.registers, 1);
  t.is(leader.registers, 1);
  t.is(l.counters.notLeader, 1);
  t.is(l.target, leader.path);
  t.is(l.newestToken, 2, 'the refusing standby\'s token is not taken');
});

test('a migration end reported without a registered leader reaches the next leader', async (t) => {
  const dir = await tempDir(t);
  const standby = await leaderAt(t, dir, 'a', false);
  const leader = await leaderAt(t, dir, 'b', true);
  const l = link(t, [standby.path, leader.path]);
  const end: MigrationStatus = { migrationId: 3, vm: VM, to: 'h2', state: 'failed', elapsedMs: 10, error: 'MIGRATION_FAILED: no route' };
  await l.migrationStatus({ ...end, state: 'running', progress: 0.1 });
  await l.migrationStatus(end);
  await waitFor('the end at the leader', () => leader.statuses.length >= 1, 10_000);
  t.deepEqual(leader.statuses, [end], 'the end is kept, the progress is not');
  t.deepEqual(standby.statuses, []);
});

const power = { sensor: { kind: 'sim' }, actuator: { kind: 'powerd' }, model: { idleWatts: 100, peakWatts: 200 }, budget: { safeWatts: 150 } };
const configCases: [string, Record<string, unknown>, string[] | RegExp][] = [
  ['one endpoint is a list of one', { endpoint: { unix: '/run/l.sock' } }, ['/run/l.sock']],
  ['endpoints keep their order', { endpoints: [{ unix: '/run/a.sock' }, { unix: '/run/b.sock' }] }, ['/run/a.sock', '/run/b.sock']],
  ['both forms at once are refused', { endpoint: { unix: '/run/l.sock' }, endpoints: [{ unix: '/run/a.sock' }] }, /leader: give endpoint or endpoints/],
  ['neither is refused', {}, /leader: give endpoint or endpoints/],
  ['an empty list is refused', { endpoints: [] }, /leader.endpoints: /],
];
for (const [what, leader, expected] of configCases) {
  test(`mvm config leader endpoints: ${what}`, (t) => {
    const raw = { host: 'h1', hypervisor: {}, power, leader };
    if (expected instanceof RegExp) {
      t.throws(() => parseMvmConfig(raw), { message: expected });
      return;
    }
    t.deepEqual(leaderEndpoints(parseMvmConfig(raw).leader!).map((e) => ('unix' in e ? e.unix : '')), expected);
  });
}
