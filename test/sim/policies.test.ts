import test from 'ava';
import { seededRandom } from '../../src/domain/clock.js';
import { createPolicy, policyNames } from '../../src/sim/policies/index.js';
import { simulate } from '../../src/sim/run.js';
import { referenceSetup } from '../../src/sim/setup.js';
import type { Workload } from '../../src/sim/workload.js';

function synthetic(vms: number, intervals: number, seed: number): Workload {
  const rnd = seededRandom(seed);
  const utilisation = Array.from({ length: vms }, () => {
    const base = rnd.next() * 0.5;
    return Float64Array.from({ length: intervals }, (_, k) => Math.min(0.99, Math.max(0, base + 0.3 * Math.sin(k / 6 + base * 10) * rnd.next())));
  });
  return { source: 'synthetic', vmNames: utilisation.map((_, i) => `vm${i}`), utilisation, intervals };
}

test('every registered policy runs deterministically on the same input', (t) => {
  const w = synthetic(24, 24, 7);
  for (const name of policyNames()) {
    const a = simulate({ workload: w, policy: createPolicy(name), setup: referenceSetup(24, 16) });
    const b = simulate({ workload: w, policy: createPolicy(name), setup: referenceSetup(24, 16) });
    t.deepEqual(a, b, name);
    t.is(a.unplacedVms, 0, name);
  }
});

test('under a cluster budget vmanage exceeds its hosts\' shares less often than equal per-host caps do', (t) => {
  const w = synthetic(40, 48, 3);
  const setup = referenceSetup(40, 24);
  const peak = simulate({ workload: w, policy: createPolicy('dvfs'), setup }).peakWatts;
  const budgetW = 0.7 * peak;
  const v = simulate({ workload: w, policy: createPolicy('vmanage'), setup, budgetW });
  const u = simulate({ workload: w, policy: createPolicy('uncoordinated'), setup, budgetW });
  t.true(u.budgetViolationPct > v.budgetViolationPct, `uncoordinated ${u.budgetViolationPct} %, vmanage ${v.budgetViolationPct} %`);
  t.true(v.frequencyChanges > 0);
});

test('an unknown policy name is refused with the list of known ones', (t) => {
  t.throws(() => createPolicy('nope'), { message: /policy 'nope': unknown; expected one of npa, dvfs/ });
});
