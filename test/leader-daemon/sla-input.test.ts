// The optional SLA fields of host.update's VM entries are untrusted input: a class, reliability or
// trust level outside its set is refused with the whole update (counted as invalid-body bad input),
// never taken as a default or stored; a valid one is used.
import test from 'ava';
import { Channel, acceptAnything } from '../../src/mchannel/index.js';
import { waitFor } from '../support/proc.js';
import { leaderConfig, registration, startTestLeader, uuidOf } from './support.js';

const bad: [string, Record<string, unknown>][] = [
  ['an unknown SLA class', { slaClass: 'platinum' }],
  ['a reliability above 1', { minReliability: 2 }],
  ['an unknown trust level', { minTrust: 'root' }],
  ['a class that is not a string', { slaClass: ['gold'] }],
];

test('VM entries with SLA fields outside their sets are refused and counted; valid ones are used', async (t) => {
  const { leader, hub } = await startTestLeader(t, await leaderConfig(t));
  const host = Channel.client(hub.connector('h1'), { role: 'host', identity: 'h1', validator: acceptAnything, heartbeatMs: 200, deadAfterMs: 1000, closeFlushMs: 50 });
  t.teardown(() => host.close());
  await host.whenConnected();
  t.like(await host.request('host.register', registration('h1')), { accepted: true });
  const update = (vm: Record<string, unknown>) => ({ ts: 1, budgetWatts: 100, budgetSource: 'safe', capKHz: 1, reliability: 1, vms: [{ uuid: uuidOf(1), cpuUtil: 0.1, sla: 'ok', ...vm }] });
  const invalid = (): number => leader.counters.badInput.get('invalid-body') ?? 0;
  for (const [what, fields] of bad) {
    const before = invalid();
    await host.send('host.update', update(fields));
    await waitFor(`${what} counted`, () => invalid() > before);
    t.is(leader.vms().length, 0, what);
    // A good update in between keeps the session under its bad-input budget.
    await host.send('host.update', { ...update({}), vms: [] });
  }
  await host.send('host.update', update({ slaClass: 'bronze', minReliability: 0.3, minTrust: 'standard' }));
  const vm = await waitFor('the VM with its class', () => leader.vms().find((v) => v.uuid === uuidOf(1)));
  t.like(vm, { slaClass: 'bronze', minReliability: 0.3, minTrust: 'standard' });
});
