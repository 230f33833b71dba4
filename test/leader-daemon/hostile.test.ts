// Every host message is untrusted. Properties: any registration the wire schema lets through is
// either used or refused with its problems (never a crash); through a running leader, a hostile
// host sending random registrations, updates, statuses and raw garbage is counted per kind and
// disconnected after its error budget, while a well-behaved host keeps its registration and
// budgets and the leader keeps answering.
import test from 'ava';
import fc from 'fast-check';
import { storedRegistrationOf, storedRegistrationProblems } from '../../src/daemons/leader/registration.js';
import { hostAttributesOf } from '../../src/domain/leader/registration.js';
import { Channel, acceptAnything } from '../../src/mchannel/index.js';
import { hostRegister, type HostRegister } from '../../src/protocol/leader.js';
import { waitFor } from '../support/proc.js';
import { leaderConfig, registered, startTestHost, startTestLeader, uuidOf } from './support.js';

const watts = fc.double({ min: 0, max: 2000, noNaN: true });
const arbRegister: fc.Arbitrary<HostRegister> = fc.record({
  host: fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/),
  cpus: fc.integer({ min: 1, max: 512 }),
  memoryKiB: fc.integer({ min: 0, max: 2 ** 40 }),
  power: fc.record({ idleWatts: watts, peakWatts: watts, measured: fc.boolean() }),
  reliability: fc.double({ min: 0, max: 1, noNaN: true }),
  trust: fc.constantFrom('untrusted', 'standard', 'trusted', 'attested'),
  frequency: fc.record({ minKHz: fc.nat(), maxKHz: fc.nat() }),
  powerTableWatts: fc.option(fc.array(watts, { minLength: 11, maxLength: 11 }), { nil: undefined }),
  capWatts: fc.option(watts, { nil: undefined }),
}, { requiredKeys: ['host', 'cpus', 'memoryKiB', 'power', 'reliability', 'trust', 'frequency'] }) as fc.Arbitrary<HostRegister>;

test('any registration the wire schema accepts is either usable or refused with its problems, never a crash', (t) => {
  fc.assert(fc.property(arbRegister, (raw) => {
    const parsed = hostRegister.safeParse(raw);
    if (!parsed.success) return;
    const reg = storedRegistrationOf(parsed.data);
    const problems = storedRegistrationProblems(reg);
    if (problems.length > 0) {
      for (const p of problems) if (!/^[a-zA-Z.]+: /.test(p)) throw new Error(`problem without a path: ${p}`);
      return;
    }
    const attrs = hostAttributesOf(reg);
    if (attrs.powerModel.watts(0) > attrs.powerModel.watts(1) + 1e-9) throw new Error('power table decreasing');
  }), { numRuns: 500 });
  t.pass();
});

const junkBody = fc.oneof(fc.anything(), arbRegister.map((r) => ({ ...r, host: 'evil' })), fc.record({ vms: fc.array(fc.anything(), { maxLength: 3 }) }));

test('a hostile host is counted and disconnected; a good host and the leader carry on', async (t) => {
  const { leader, hub } = await startTestLeader(t, await leaderConfig(t, { cluster: { budgetWatts: 600 } }));
  const good = startTestHost(t, hub, 'good', { vms: [{ uuid: uuidOf(7), cpuUtil: 0.4 }] });
  await registered(good);
  await fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom('host.register', 'host.update', 'host.migration-status', 'host.migration-request', 'leader.budget', 'no.such'), junkBody), { minLength: 1, maxLength: 12 }), async (msgs) => {
    const evil = Channel.client(hub.connector('evil'), { role: 'host', identity: 'evil', validator: acceptAnything, heartbeatMs: 200, deadAfterMs: 1000, closeFlushMs: 50 });
    try {
      await evil.whenConnected();
      for (const [kind, body] of msgs) {
        if (kind === 'host.register' || kind === 'host.migration-request') await evil.request(kind, body, { timeoutMs: 2000 }).catch(() => undefined);
        else await evil.send(kind, body).catch(() => undefined);
      }
      // A valid update with a VM listed twice: semantic bad input.
      await evil.send('host.update', { ts: 1, budgetWatts: 100, budgetSource: 'safe', capKHz: 1, reliability: 1, vms: [{ uuid: uuidOf(9), cpuUtil: 0.1, sla: 'ok' }, { uuid: uuidOf(9), cpuUtil: 0.2, sla: 'ok' }] }).catch(() => undefined);
    } finally {
      await evil.close().catch(() => undefined);
    }
  }), { numRuns: 25 });
  // Raw garbage on a connection that never says hello.
  const raw = await hub.connector('junk').connect();
  raw.stream.on('error', () => {});
  raw.stream.write('\u0000\u00ff{"t":"msg"\n'.repeat(50));
  // A burst of invalid bodies closes the hostile session (error budget).
  const burst = Channel.client(hub.connector('evil'), { role: 'host', identity: 'evil', validator: acceptAnything, closeFlushMs: 50 });
  t.teardown(() => burst.close());
  await burst.whenConnected();
  for (let i = 0; i < 40 && burst.state !== 'closed'; i++) await burst.send('host.update', { nonsense: i }).catch(() => undefined);
  await waitFor('the hostile session closed', () => leader.counters.disconnectedForBadInput >= 1);
  const bad = [...leader.counters.badInput.values()].reduce((a, b) => a + b, 0);
  t.true(bad > 0);
  t.true((leader.counters.badInput.get('invalid-body') ?? 0) > 0);
  t.true(leader.hosts().length <= 2, 'only good (and maybe a well-formed "evil") are registered');
  const before = good.link.counters.updates;
  await waitFor('the good host keeps updating', () => good.link.counters.updates > before + 3);
  t.true(good.link.registered);
  t.is(leader.status().role, 'leader');
  t.true(leader.vms().some((v) => v.uuid === uuidOf(7)));
  const metrics = await leader.registry.metrics();
  t.regex(metrics, /vmanage_leader_bad_input_total\{kind="invalid-body"\} [1-9]/);
  t.regex(metrics, /vmanage_leader_hosts\{liveness="up",state="on"\} [1-2]/);
});
