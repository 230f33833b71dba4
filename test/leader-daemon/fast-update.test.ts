// The leader's fast path for host.update (sessions.ts hostUpdateIsPlain) may only say "valid as
// is": whatever it accepts, the protocol schema accepts and returns unchanged. Checked on valid
// bodies, on bodies with one field pushed to or past its bounds, and on arbitrary JSON.
import test from 'ava';
import fc from 'fast-check';
import { hostUpdate, leaderBudget } from '../../src/protocol/leader.js';
import { createRegistry } from '../../src/protocol/registry.js';
import { leaderFamily } from '../../src/protocol/leader.js';
import { hostUpdateIsPlain, leaderBudgetIsPlain, leaderValidator } from '../../src/daemons/leader/sessions.js';

const edgeNumber = fc.oneof(
  fc.constantFrom(-1, 0, 0.5, 1, 1.5, 64, 4096, 4097, 1_000_000, 1_000_001, 2 ** 50, 2 ** 50 + 1, 8.64e15, 8.64e15 + 1, Number.MAX_SAFE_INTEGER, 2 ** 53, -0, 1e308),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
);
/** Mostly the valid form, sometimes an edge or a wrong type. */
const mostly = <T,>(ok: fc.Arbitrary<T>, other: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> => fc.oneof({ arbitrary: ok, weight: 12 }, { arbitrary: other, weight: 1 });
const value = fc.oneof(edgeNumber, fc.string({ maxLength: 70 }), fc.constant(null), fc.boolean(), fc.constantFrom('ok', 'violated', 'unknown', 'leader', 'safe', 'config', 'last-known', ''));
const uuidLike = fc.oneof(fc.uuid(), fc.constantFrom('4DEA22B3-1D52-D8F3-2516-782E98AB3FA0', '4dea22b3-1d52-d8f3-2516-782e98ab3fa', 'x'), fc.string({ maxLength: 40 }));

const vm = fc.record({
  uuid: mostly(fc.uuid(), uuidLike),
  name: fc.option(mostly(fc.string({ minLength: 1, maxLength: 64 }), fc.oneof(fc.string({ maxLength: 70 }), value)), { nil: undefined }),
  cpuUtil: mostly(fc.double({ min: 0, max: 1, noNaN: true }), edgeNumber),
  sla: mostly(fc.constantFrom('ok', 'violated', 'unknown'), value),
  vcpus: fc.option(mostly(fc.integer({ min: 1, max: 4096 }), edgeNumber), { nil: undefined }),
  memoryKiB: fc.option(mostly(fc.integer({ min: 0, max: 2 ** 40 }), edgeNumber), { nil: undefined }),
  slaClass: fc.option(mostly(fc.constantFrom('gold', 'silver', 'bronze'), value), { nil: undefined }),
  minReliability: fc.option(mostly(fc.double({ min: 0, max: 1, noNaN: true }), edgeNumber), { nil: undefined }),
  minTrust: fc.option(mostly(fc.constantFrom('untrusted', 'standard', 'trusted', 'attested'), value), { nil: undefined }),
}, { requiredKeys: ['uuid', 'cpuUtil', 'sla'] });

const update = fc.record({
  ts: mostly(fc.integer({ min: 0, max: 2 ** 45 }), edgeNumber),
  watts: mostly(fc.double({ min: 0, max: 1000, noNaN: true }), edgeNumber),
  budgetWatts: mostly(fc.double({ min: 0, max: 1000, noNaN: true }), edgeNumber),
  budgetSource: mostly(fc.constantFrom('leader', 'last-known', 'safe', 'config'), value),
  capKHz: mostly(fc.integer({ min: 0, max: 4_000_000 }), edgeNumber),
  vms: fc.array(vm, { maxLength: 4 }),
  reliability: mostly(fc.double({ min: 0, max: 1, noNaN: true }), edgeNumber),
  budgetViolations: mostly(fc.nat(), edgeNumber),
  extra: value,
}, { requiredKeys: ['ts', 'budgetWatts', 'budgetSource', 'capKHz', 'vms', 'reliability'] });

/** Through JSON, as bodies arrive. */
const wire = (x: unknown): unknown => JSON.parse(JSON.stringify(x));

test('property: every host.update the fast path accepts, the schema accepts unchanged', (t) => {
  let fast = 0;
  fc.assert(fc.property(fc.oneof({ arbitrary: update, weight: 4 }, { arbitrary: fc.jsonValue(), weight: 1 }), (raw) => {
    const body = wire(raw);
    if (!hostUpdateIsPlain(body)) return true;
    fast++;
    const r = hostUpdate.safeParse(body);
    return r.success && JSON.stringify(r.data) === JSON.stringify(body);
  }), { numRuns: 3000 });
  t.true(fast > 100, `the fast path was taken ${fast} times`);
});

test('the leader validator answers like the schema: the body as is when valid, the schema\'s error otherwise', (t) => {
  const registry = createRegistry(leaderFamily);
  const v = leaderValidator(registry);
  const good = { ts: 1, watts: 120, budgetWatts: 200, budgetSource: 'leader', capKHz: 3_000_000, reliability: 1, vms: [{ uuid: '4dea22b3-1d52-d8f3-2516-782e98ab3fa0', name: 'vm1', cpuUtil: 0.5, sla: 'ok', vcpus: 2, memoryKiB: 4096 }] };
  t.deepEqual(v.checkBody('host.update', good), { ok: true, value: good });
  const rows: [string, unknown][] = [
    ['cpuUtil above 1', { ...good, vms: [{ ...good.vms[0], cpuUtil: 1.5 }] }],
    ['a VM without uuid', { ...good, vms: [{ cpuUtil: 0.5, sla: 'ok' }] }],
    ['budgetSource unknown', { ...good, budgetSource: 'mine' }],
    ['ts not an integer', { ...good, ts: 1.5 }],
  ];
  for (const [what, body] of rows) t.deepEqual(v.checkBody('host.update', body), registry.checkBody('host.update', body), what);
  const extra = { ...good, later: 'a field a newer host sends' };
  t.deepEqual(v.checkBody('host.update', extra), registry.checkBody('host.update', extra), 'unknown fields: the schema strips them');
});

test('property: every leader.budget the fast path accepts, the schema accepts unchanged; the rest goes to the schema', (t) => {
  const registry = createRegistry(leaderFamily);
  const v = leaderValidator(registry);
  let fast = 0;
  const budget = fc.record({ token: mostly(fc.nat(), edgeNumber), watts: mostly(fc.double({ min: 0, max: 2000, noNaN: true }), edgeNumber), extra: value }, { requiredKeys: [] });
  fc.assert(fc.property(fc.oneof({ arbitrary: budget, weight: 4 }, { arbitrary: fc.jsonValue(), weight: 1 }), (raw) => {
    const body = wire(raw);
    const schema = registry.checkBody('leader.budget', body);
    if (!leaderBudgetIsPlain(body)) return JSON.stringify(v.checkBody('leader.budget', body)) === JSON.stringify(schema);
    fast++;
    const r = leaderBudget.safeParse(body);
    return r.success && JSON.stringify(r.data) === JSON.stringify(body) && schema.ok;
  }), { numRuns: 2000 });
  t.true(fast > 100, `the fast path was taken ${fast} times`);
});
