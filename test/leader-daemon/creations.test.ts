// The leader's follow-up of VM creations whose host gave no answer in time (Creations), on a
// manual clock with the real host table and decision journal (SQLite in memory): a VM a host
// lists later makes the decision `created` with the host and how late (and says when another
// host than the chosen one has it); one no host lists by the deadline is `lost`, not a
// millisecond before; while pending the VM counts on the chosen host for placement; the pending
// set is bounded; losing leadership stops the follow-up. A model-based property test checks any
// interleaving of creations, updates and time against what must happen.
import test from 'ava';
import fc from 'fast-check';
import { EventEmitter } from 'node:events';
import { LeaderStore, openDatabase } from '../../src/adapters/store/index.js';
import { ManualClock } from '../../src/domain/clock.js';
import type { ClusterVm } from '../../src/domain/cluster.js';
import { buildIndex } from '../../src/domain/leader/index.js';
import { hostAttributesOf } from '../../src/domain/leader/registration.js';
import type { LeaderEvents } from '../../src/daemons/leader/api.js';
import { Creations, type CreationResolution } from '../../src/daemons/leader/creations.js';
import { DecisionLog } from '../../src/daemons/leader/decisions.js';
import { HostTable, type LiveHost } from '../../src/daemons/leader/hosts.js';
import { storedRegistrationOf } from '../../src/daemons/leader/registration.js';
import { quiet, uuidOf } from './support.js';

const LOST_MS = 60_000;
const T0 = 1_000_000;

function world(t: { teardown(fn: () => void): void }, maxPending?: number) {
  const db = openDatabase(':memory:');
  t.teardown(() => db.close());
  const store = new LeaderStore(db);
  const table = new HostTable();
  const hosts = new Map<string, LiveHost>();
  for (const id of ['h1', 'h2']) {
    const reg = storedRegistrationOf({ host: id, cpus: 8, memoryKiB: 16 << 20, power: { idleWatts: 90, peakWatts: 200, measured: false }, reliability: 1, trust: 'standard', frequency: { minKHz: 1, maxKHz: 2 } });
    hosts.set(id, table.register(reg, hostAttributesOf(reg), T0, store));
  }
  const clock = new ManualClock(T0);
  const decisions = new DecisionLog(store, db, new EventEmitter<LeaderEvents>(), quiet);
  const resolved: CreationResolution[] = [];
  const creations = new Creations({ table, decisions, clock, log: quiet, resolved: (r) => resolved.push(r), lostAfterMs: LOST_MS, ...(maxPending !== undefined ? { maxPending } : {}) });
  /** Host `id` reports exactly `vms` (by number), as a host.update does. */
  const report = (id: string, vms: number[]): void => {
    const h = hosts.get(id) as LiveHost;
    table.update(h, { ts: clock.now(), budgetWatts: 150, budgetSource: 'leader', capKHz: 2, reliability: 1, vms: vms.map((n) => ({ uuid: uuidOf(n), cpuUtil: 0.1, sla: 'ok' as const })) }, clock.now());
    creations.seen(h);
  };
  /** A place-vm decision on `host` journaled now with outcome unknown; returns the creation. */
  const decide = (n: number, host = 'h1') => {
    const vm: ClusterVm = { uuid: uuidOf(n), host, vcpus: 1, memoryMiB: 4096, cpuUtil: 0.1, cpuPeak: 0.1, sla: 'silver', minReliability: 0, minTrust: 'untrusted' };
    const d = decisions.record(clock.now(), { kind: 'place-vm', target: vm.uuid, value: 0, to: host, policy: 'leader-placement', reason: { code: 'placed', text: 'test' }, predicted: {}, inputs: { create: true } }, 1, 'unknown');
    return { decisionId: d.id, vm, name: `vm${n}`, decidedAt: clock.now() };
  };
  const state = () => creations.withHeld(table.clusterState(clock.now()), clock.now());
  return { table, clock, decisions, creations, resolved, report, decide, state };
}

test('an unknown creation a host lists later becomes created, with that host and how late', (t) => {
  const w = world(t);
  const c = w.decide(1);
  w.clock.advance(300);
  t.true(w.creations.unknown(c));
  w.clock.advance(4700);
  w.report('h1', [7]);
  t.is(w.decisions.view(c.decisionId)?.outcome, 'unknown', 'another VM does not resolve it');
  w.report('h1', [7, 1]);
  t.like(w.decisions.view(c.decisionId), { outcome: 'created', actual: { host: 'h1', vm: uuidOf(1), name: 'vm1', lateMs: 5000 } });
  t.false('chosenHost' in (w.decisions.view(c.decisionId)?.actual ?? {}), 'on the chosen host: nothing to say');
  t.deepEqual(w.resolved, ['created-late']);
  t.is(w.creations.pendingCount, 0);
  w.clock.advance(LOST_MS);
  t.is(w.decisions.view(c.decisionId)?.outcome, 'created', 'the deadline no longer applies');
});

test('a VM that appears on another host than the chosen one says which was chosen', (t) => {
  const w = world(t);
  const c = w.decide(2, 'h1');
  w.creations.unknown(c);
  w.clock.advance(1234);
  w.report('h2', [2]);
  t.like(w.decisions.view(c.decisionId), { outcome: 'created', actual: { host: 'h2', chosenHost: 'h1', lateMs: 1234 } });
});

test('an unknown creation no host lists is lost at its deadline, not a millisecond before', (t) => {
  const w = world(t);
  const c = w.decide(3);
  w.clock.advance(10_000);
  w.creations.unknown(c);
  w.clock.advance(LOST_MS - 10_000 - 1);
  t.is(w.decisions.view(c.decisionId)?.outcome, 'unknown');
  w.clock.advance(1);
  const d = w.decisions.view(c.decisionId);
  t.like(d, { outcome: 'lost', actual: { host: 'h1', vm: uuidOf(3), name: 'vm3' } });
  t.regex(String(d?.actual?.['error']), /no answer from h1, and no host listed the VM within 60000 ms of the decision/);
  t.deepEqual(w.resolved, ['lost']);
  w.report('h1', [3]);
  t.is(w.decisions.view(c.decisionId)?.outcome, 'lost', 'a VM showing up after its deadline changes nothing');
});

test('a VM some host lists already when the answer times out is created at once', (t) => {
  const w = world(t);
  const c = w.decide(4);
  w.clock.advance(800);
  w.report('h1', [4]);
  t.true(w.creations.unknown(c));
  t.like(w.decisions.view(c.decisionId), { outcome: 'created', actual: { host: 'h1', lateMs: 800 } });
  t.is(w.creations.pendingCount, 0);
});

test('while pending the VM counts on the chosen host for placement; resolved, it counts where a host lists it', (t) => {
  const w = world(t);
  const [a, b] = [w.decide(5, 'h1'), w.decide(6, 'h2')];
  w.creations.unknown(a);
  w.creations.unknown(b);
  t.deepEqual(w.state().vms.map((v) => [v.uuid, v.host, v.memoryMiB]), [[uuidOf(5), 'h1', 4096], [uuidOf(6), 'h2', 4096]]);
  w.report('h2', [5]);
  t.deepEqual(w.state().vms.map((v) => [v.uuid, v.host]), [[uuidOf(5), 'h2'], [uuidOf(6), 'h2']], 'listed: the host\'s report replaces the hold');
  w.clock.advance(LOST_MS);
  t.deepEqual(w.state().vms.map((v) => v.uuid), [uuidOf(5)], 'lost: no longer held');
  t.is(w.creations.inFlight(uuidOf(6)), undefined);
});

test('a VM held on a host that is then lost is left out of the placement view with that host (no VM on an unknown host)', (t) => {
  const w = world(t);
  const [a, b] = [w.decide(8, 'h1'), w.decide(9, 'h2')];
  w.creations.unknown(a);
  w.creations.created(b);
  w.clock.advance(5000);
  w.report('h2', []);
  t.deepEqual(w.table.checkLiveness(w.clock.now(), 1000).map((h) => h.id), ['h1']);
  const s = w.state();
  t.deepEqual(s.hosts.map((h) => h.id), ['h2']);
  t.deepEqual(s.vms.map((v) => [v.uuid, v.host]), [[uuidOf(9), 'h2']]);
  t.notThrows(() => buildIndex(s));
  w.report('h1', []);
  t.deepEqual(w.state().vms.map((v) => v.uuid), [uuidOf(9), uuidOf(8)], 'h1 back: its pending VM counts again');
});

test('a creation answered done is held until a host lists it, at most two minutes', (t) => {
  const w = world(t);
  const c = w.decide(7);
  w.creations.created(c);
  t.like(w.creations.inFlight(uuidOf(7)), { pending: false, decisionId: c.decisionId });
  t.is(w.state().vms.length, 1);
  w.clock.advance(120_000);
  t.is(w.state().vms.length, 0);
  t.is(w.decisions.view(c.decisionId)?.outcome, 'unknown', 'a held creation\'s outcome is the caller\'s');
});

test('the pending set is bounded: when full the next creation is not followed and its outcome stays unknown', (t) => {
  const w = world(t, 2);
  const cs = [w.decide(10), w.decide(11), w.decide(12)];
  t.true(w.creations.unknown(cs[0]!));
  t.false(w.creations.full);
  t.true(w.creations.unknown(cs[1]!));
  t.true(w.creations.full);
  t.false(w.creations.unknown(cs[2]!));
  t.is(w.creations.pendingCount, 2);
  w.report('h1', [10, 11, 12]);
  t.deepEqual(cs.map((c) => w.decisions.view(c.decisionId)?.outcome), ['created', 'created', 'unknown']);
  t.false(w.creations.full);
});

test('losing leadership stops the follow-up: the outcome stays unknown when the VM shows up or the deadline passes', (t) => {
  const w = world(t);
  const [a, b] = [w.decide(20), w.decide(21)];
  w.creations.unknown(a);
  w.creations.unknown(b);
  w.creations.drop('no longer leading (standby)');
  t.is(w.creations.pendingCount, 0);
  t.is(w.state().vms.length, 0);
  w.report('h1', [20]);
  w.clock.advance(LOST_MS);
  t.deepEqual([a, b].map((c) => w.decisions.view(c.decisionId)?.outcome), ['unknown', 'unknown']);
  t.deepEqual(w.resolved, []);
});

const step = fc.oneof(
  fc.record({ op: fc.constant('create' as const), host: fc.constantFrom('h1', 'h2') }),
  fc.record({ op: fc.constant('report' as const), host: fc.constantFrom('h1', 'h2'), vms: fc.uniqueArray(fc.integer({ min: 0, max: 11 }), { maxLength: 6 }) }),
  fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 40_000 }) }),
);

test('any interleaving of creations, host updates and time resolves each creation once: created when listed by its deadline, else lost', (t) => {
  fc.assert(fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
    const teardowns: (() => void)[] = [];
    const w = world({ teardown: (fn) => teardowns.push(fn) }, 5);
    try {
      // The model: creation n -> its deadline and what must be journaled.
      const model = new Map<number, { id: number; deadline: number; expect: string; host?: string }>();
      let n = 0;
      for (const s of steps) {
        if (s.op === 'create' && n < 12) {
          const c = w.decide(n, s.host);
          const listed = w.table.hostOfVm(c.vm.uuid);
          const followed = w.creations.unknown(c);
          model.set(n++, { id: c.decisionId, deadline: c.decidedAt + LOST_MS, expect: listed ? 'created' : followed ? 'pending' : 'unknown', ...(listed ? { host: listed.id } : {}) });
        } else if (s.op === 'report') {
          for (const v of s.vms) {
            const m = model.get(v);
            if (m?.expect === 'pending') Object.assign(m, { expect: 'created', host: s.host });
          }
          w.report(s.host, s.vms);
        } else if (s.op === 'advance') {
          const end = w.clock.now() + s.ms;
          for (const m of model.values()) if (m.expect === 'pending' && m.deadline <= end) m.expect = 'lost';
          w.clock.advance(s.ms);
        }
        if (w.creations.pendingCount > 5) return false;
      }
      for (const m of model.values()) {
        const d = w.decisions.view(m.id);
        const want = m.expect === 'pending' ? 'unknown' : m.expect;
        if (d?.outcome !== want) return false;
        if (want === 'created' && d.actual?.['host'] !== m.host) return false;
      }
      const pending = [...model.values()].filter((m) => m.expect === 'pending').length;
      const ended = [...model.values()].filter((m) => m.expect === 'lost' || m.expect === 'created').length;
      return w.creations.pendingCount === pending && w.resolved.length === ended;
    } finally {
      for (const fn of teardowns) fn();
    }
  }), { numRuns: 200 });
  t.pass();
});
