// Every built-in policy: deterministic (two instances fed the same inputs decide the same), does
// not touch its snapshot (deep-frozen here), never throws and only returns well-formed decisions,
// whatever the snapshot holds (hostile numbers included).
import test from 'ava';
import fc from 'fast-check';
import { ManualClock } from '../../src/domain/clock.js';
import { DECISION_KINDS, type HostSnapshot } from '../../src/domain/model.js';
import { builtinPolicies } from '../../src/domain/policies/index.js';
import { MAX_KHZ, MIN_KHZ, snapshot, vm } from './fixtures.js';

function deepFreeze<T>(x: T): T {
  if (x && typeof x === 'object' && !Object.isFrozen(x)) {
    Object.freeze(x);
    for (const v of Object.values(x as object)) deepFreeze(v);
  }
  return x;
}

const num = fc.oneof(fc.double({ min: 0, max: 400, noNaN: true }), fc.constantFrom(Number.NaN, -1, Number.POSITIVE_INFINITY, 1e9));
const step = fc.record({
  watts: num, stale: fc.boolean(), ageMs: fc.integer({ min: 0, max: 20_000 }), budget: fc.integer({ min: 100, max: 300 }),
  capKHz: fc.integer({ min: MIN_KHZ, max: MAX_KHZ }), cpuUtil: fc.double({ min: 0, max: 1, noNaN: true }),
  vms: fc.array(fc.record({ status: fc.constantFrom('ok', 'violated', 'unknown'), slack: fc.double({ min: -1, max: 1, noNaN: true }), util: fc.double({ min: 0, max: 1, noNaN: true }), open: fc.boolean() }), { maxLength: 6 }),
  dtMs: fc.integer({ min: 0, max: 30_000 }),
});

for (const bundle of builtinPolicies()) {
  test(`purity: ${bundle.name} is deterministic, leaves its snapshot alone and returns well-formed decisions`, (t) => {
    fc.assert(fc.property(fc.array(step, { minLength: 1, maxLength: 25 }), (steps) => {
      const a = bundle.create();
      const b = bundle.create();
      const clock = new ManualClock(0);
      for (const s of steps) {
        clock.advance(s.dtMs);
        const snap: HostSnapshot = deepFreeze(snapshot({
          at: clock.now(), watts: s.watts, stale: s.stale, ageMs: s.ageMs, budget: s.budget, capKHz: s.capKHz, cpuUtil: s.cpuUtil,
          powerLimit: { watts: null, minWatts: 50, maxWatts: 400 },
          vms: s.vms.map((v, i) => vm(`vm${i}`, { status: v.status as 'ok', slack: v.slack, cpuUtil: v.util, at: clock.now(), migrationOpen: v.open })),
        }));
        const da = a.decide(snap, bundle.defaults, clock);
        const db = b.decide(snap, bundle.defaults, clock);
        if (JSON.stringify(da) !== JSON.stringify(db)) return false;
        for (const d of da) {
          if (!DECISION_KINDS.includes(d.kind) || !Number.isFinite(d.value) || d.policy !== bundle.name || !d.reason.code) return false;
          if (d.kind === 'set-frequency-cap' && (d.value < MIN_KHZ || d.value > MAX_KHZ)) return false;
        }
      }
      return true;
    }), { numRuns: 150 });
    t.pass();
  });
}
