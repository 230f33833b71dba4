import test from 'ava';
import fc from 'fast-check';
import { join } from 'node:path';
import { pino } from 'pino';
import { systemClock } from '../../src/adapters/clock.js';
import { SimHypervisor } from '../../src/adapters/sim/hypervisor.js';
import { WorldFrequencyActuator, WorldPowerSensor } from '../../src/adapters/sim/power.js';
import { parseSimUri } from '../../src/adapters/sim/world-client.js';
import { World } from '../../src/demo/world.js';
import { WorldServer } from '../../src/demo/world-server.js';
import { isVmanageError } from '../../src/domain/errors.js';
import type { MigrationProgress, VmEvent } from '../../src/domain/ports/hypervisor.js';
import { Channel } from '../../src/mchannel/channel.js';
import { acceptAnything } from '../../src/mchannel/validator.js';
import { unixConnector } from '../../src/mchannel/transports/unix.js';
import { guestFamily } from '../../src/protocol/guest.js';
import { createRegistry } from '../../src/protocol/registry.js';
import { tempDir, waitFor, type Teardown } from '../support/proc.js';

const A = '00000000-0000-4000-8000-00000000000a';
const B = '00000000-0000-4000-8000-00000000000b';
const host = { cpus: 2, mipsPerCore: 1860, table: 'hp-proliant-ml110-g4' as const, minKHz: 1_000_000, maxKHz: 1_860_000, memoryKiB: 4 << 20 };

async function startWorld(t: Teardown & { teardown(fn: () => unknown): void }): Promise<{ world: World; socket: string; uri: (h: string) => string }> {
  const dir = await tempDir(t, 'vmanage-sim-');
  const world = new World({
    clock: systemClock, stepMs: 60_000, bandwidthMiBps: 256,
    hosts: [{ name: 'h1', ...host }, { name: 'h2', ...host }],
    vms: [
      { uuid: A, name: 'vm-a', host: 'h1', vcpus: 1, mips: 1500, memoryKiB: 128 * 1024, trace: [0.9] },
      { uuid: B, name: 'vm-b', host: 'h2', vcpus: 1, mips: 500, memoryKiB: 64 * 1024, trace: [0.2] },
    ],
  });
  const socket = join(dir, 'world.sock');
  const server = await WorldServer.start({ world, clock: systemClock, socketPath: socket, channelDir: join(dir, 'ch'), log: pino({ level: 'silent' }), reportMs: 200 });
  t.teardown(() => server.close());
  return { world, socket, uri: (h) => `sim:///${h}?world=${socket}` };
}

function hypervisor(t: { teardown(fn: () => unknown): void }, uri: string): SimHypervisor {
  const hv = new SimHypervisor({ uri, clock: systemClock });
  t.teardown(() => hv.close());
  return hv;
}

test('the simulated hypervisor lists its host\'s VMs and their CPU time advances by the share they get', async (t) => {
  const { uri } = await startWorld(t);
  const hv = hypervisor(t, uri('h1'));
  t.deepEqual((await hv.listVms()).map((v) => [v.uuid, v.name, v.state, v.vcpus]), [[A, 'vm-a', 'running', 1]]);
  const s0 = await hv.stats(A);
  await new Promise((r) => setTimeout(r, 300));
  const s1 = await hv.stats(A);
  const util = (s1.cpuTimeNs - s0.cpuTimeNs) / ((s1.timestamp - s0.timestamp) * 1e6);
  // 1350 of 1860 MIPS at full clock: 0.73 of a core (the world integrates in 100 ms ticks).
  t.true(util > 0.6 && util < 0.85, `utilisation ${util}`);
  const err = await t.throwsAsync(hv.stats(B));
  t.true(isVmanageError(err) && err.code === 'VM_NOT_FOUND', String(err));
  await hv.setScheduler(A, { cpuShares: 512, vcpuQuotaUs: 50_000 });
  t.like(await hv.getScheduler(A), { cpuShares: 512, vcpuQuotaUs: 50_000 });
});

test('the world power sensor and frequency actuator read and move the host\'s cap', async (t) => {
  const { uri } = await startWorld(t);
  const hv = hypervisor(t, uri('h1'));
  const sensor = new WorldPowerSensor(hv.client, systemClock);
  const freq = new WorldFrequencyActuator(hv.client);
  const full = (await sensor.read()).watts;
  await freq.setMaxFrequency(1_000_000);
  const capped = (await sensor.read()).watts;
  t.true(capped < full, `${capped} < ${full}`);
  t.is((await freq.state())[0]?.scalingMaxKHz, 1_000_000);
  const err = await t.throwsAsync(freq.setMaxFrequency(2_000_000));
  t.true(isVmanageError(err) && err.code === 'OUT_OF_BOUNDS');
  await freq.clearMaxFrequency();
  t.is((await freq.state())[0]?.scalingMaxKHz, 1_860_000);
  t.is(sensor.last()?.stale, true);
});

test('the agent of a VM speaks the guest M-channel on the socket the world gives, with SLA reports', async (t) => {
  const { uri } = await startWorld(t);
  const hv = hypervisor(t, uri('h1'));
  const path = await hv.channelSocketPath(A);
  t.truthy(path);
  const ch = Channel.client(unixConnector(path as string, { label: A }), { role: 'host', validator: createRegistry(guestFamily), clock: systemClock });
  t.teardown(() => ch.close());
  const kinds: string[] = [];
  const got = (async () => {
    for await (const m of ch) {
      kinds.push(m.kind);
      if (m.kind === 'sla.report') return m.body as { status: string; measured: { value: number } };
    }
    return undefined;
  })();
  const report = await got;
  t.is(kinds[0], 'agent.hello');
  t.is(report?.status, 'ok');
  t.true((report?.measured.value ?? 0) > 0);
});

test('a migration moves the VM: events on both hosts, progress, and the source no longer lists it', async (t) => {
  const { uri, world } = await startWorld(t);
  const h1 = hypervisor(t, uri('h1'));
  const h2 = hypervisor(t, uri('h2'));
  const e1: VmEvent[] = [];
  const e2: VmEvent[] = [];
  h1.onEvent((e) => e1.push(e));
  h2.onEvent((e) => e2.push(e));
  await h1.listVms(); await h2.listVms(); // subscribed
  const progress: MigrationProgress[] = [];
  await h1.migrate(A, { destinationUri: uri('h2'), onProgress: (p) => progress.push(p) });
  t.is(world.whereIs(A), 'h2');
  await waitFor('the resume event on the destination', () => e2.some((e) => e.kind === 'resumed'));
  t.deepEqual(e2.map((e) => [e.kind, e.reason]), [['started', 'migrated'], ['resumed', 'migrated']]);
  t.deepEqual(e1.map((e) => [e.kind, e.reason, e.detail]), [['stopped', 'migrated', 3]]);
  t.true(progress.length >= 1, 'at least one progress report (128 MiB at 256 MiB/s = 500 ms)');
  t.deepEqual((await h1.listVms()).map((v) => v.uuid), []);
  t.deepEqual((await h2.listVms()).map((v) => v.uuid).sort(), [A, B]);
  const err = await t.throwsAsync(h2.migrate(A, { destinationUri: uri('h2') }));
  t.true(isVmanageError(err) && err.code === 'MIGRATION_FAILED');
});

test('an abort signal aborts the migration in the world', async (t) => {
  const { uri, world } = await startWorld(t);
  const h1 = hypervisor(t, uri('h1'));
  const ac = new AbortController();
  const p = h1.migrate(A, { destinationUri: uri('h2'), signal: ac.signal });
  setTimeout(() => ac.abort(), 100);
  const err = await t.throwsAsync(p);
  t.true(isVmanageError(err) && err.code === 'MIGRATION_ABORTED', String(err));
  t.is(world.whereIs(A), 'h1');
});

test('sim URIs are parsed strictly: anything else is INVALID_INPUT naming the expected form', (t) => {
  t.deepEqual(parseSimUri('sim:///host-1?world=/run/w.sock'), { host: 'host-1', world: '/run/w.sock' });
  for (const bad of ['qemu:///system', 'sim:///?world=/x', 'sim:///h', 'sim:///h?world=rel', 'sim:///a/b?world=/x', 'not a uri']) {
    const err = t.throws(() => parseSimUri(bad));
    t.true(isVmanageError(err) && err.code === 'INVALID_INPUT' && /sim:\/\/\/HOST\?world=/.test(err.message), bad);
  }
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => {
    try {
      const r = parseSimUri(s);
      return /^[A-Za-z0-9._-]{1,64}$/.test(r.host) && r.world.startsWith('/');
    } catch (err) {
      return isVmanageError(err) && err.code === 'INVALID_INPUT';
    }
  }));
});

test('a hostile client gets errors with codes for bad bodies, unknown hosts and unknown kinds, and the world keeps serving', async (t) => {
  const { socket, uri } = await startWorld(t);
  const ch = Channel.client(unixConnector(socket), { role: 'host', validator: acceptAnything, clock: systemClock });
  t.teardown(() => ch.close());
  const code = async (kind: string, body: unknown): Promise<string> => {
    const err = await t.throwsAsync(ch.request(kind, body, { timeoutMs: 3000 }));
    return isVmanageError(err) ? err.code : String(err);
  };
  t.is(await code('world.stats', { host: 'h1', vm: 'not-a-uuid' }), 'INVALID_INPUT');
  t.is(await code('world.cap', { host: 'h1', kHz: -5 }), 'INVALID_INPUT');
  t.is(await code('world.vms', { host: 'nowhere' }), 'NOT_FOUND');
  t.is(await code('world.cap', { host: 'h1', kHz: 9_000_000 }), 'OUT_OF_BOUNDS');
  t.is(await code('world.reboot', { host: 'h1' }), 'UNSUPPORTED');
  t.is(await code('world.migrate', { host: 'h1', vm: A, to: 'nowhere' }), 'NOT_FOUND');
  const hv = hypervisor(t, uri('h1'));
  t.is((await hv.listVms()).length, 1, 'still serving');
});
