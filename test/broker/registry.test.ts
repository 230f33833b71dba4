import test from 'ava';
import { z } from 'zod';
import { createPolicyRegistry } from '../../src/broker/registry.js';
import { isVmanageError } from '../../src/domain/errors.js';
import { builtinPolicies } from '../../src/domain/policies/index.js';
import { definePolicy } from '../../src/domain/policies/types.js';

const registry = createPolicyRegistry(builtinPolicies());

test('registry: the built-in policies register in one call', (t) => {
  t.deepEqual(registry.names(), ['sla-dvfs', 'budget', 'vm-shares', 'violation-trigger', 'fail-safe']);
});

test('registry: params are merged over the defaults and validated', (t) => {
  const [inst] = registry.instantiate([{ name: 'budget', params: { marginWatts: 8 } }]);
  t.like(inst!.params, { marginWatts: 8, ki: 0.5 });
});

test('registry: every config problem is reported at once as path: problem', (t) => {
  const err = t.throws(() => registry.instantiate([
    { name: 'budget', params: { ki: 3, bogus: 1 } },
    { name: 'nope' },
    { name: 'sla-dvfs', params: 'fast' },
    { name: 'budget' },
  ]));
  t.true(isVmanageError(err, 'CONFIG_INVALID'));
  const problems = (err as unknown as { details: { problems: string[] } }).details.problems;
  t.true(problems.some((p) => p.startsWith('policies.0.params.ki: ')), problems.join('\n'));
  t.true(problems.some((p) => p.startsWith('policies.0.params: ') && p.includes('bogus')), problems.join('\n'));
  t.true(problems.some((p) => p.startsWith('policies.1.params: unknown policy "nope"')));
  t.true(problems.some((p) => p === 'policies.2.params: expected an object of parameters'));
  t.true(problems.some((p) => p.startsWith('policies.3.name: policy "budget" listed twice')));
});

test('registry: each instantiate gives fresh policy instances (no shared memory)', (t) => {
  const a = registry.instantiate([{ name: 'budget' }]);
  const b = registry.instantiate([{ name: 'budget' }]);
  t.not(a[0]!.policy, b[0]!.policy);
});

const tiny = (name: string, defaults: { x: number } = { x: 1 }) => definePolicy({ name, description: 't', schema: z.object({ x: z.number().max(5) }), defaults, create: () => ({ decide: () => [] }) });

test('registry: a duplicate name, a bad name or defaults failing their schema are refused at registration', (t) => {
  t.throws(() => createPolicyRegistry([tiny('a'), tiny('a')]), { message: /registered twice/ });
  t.throws(() => createPolicyRegistry([tiny('Bad Name')]), { message: /policy name/ });
  t.throws(() => createPolicyRegistry([tiny('b', { x: 9 })]), { message: /defaults/ });
});

test('registry: every built-in policy publishes its parameter schema as JSON Schema', (t) => {
  for (const name of registry.names()) {
    const schema = z.toJSONSchema(registry.get(name)!.schema as z.ZodType, { io: 'input' }) as { properties?: object };
    t.truthy(schema.properties, name);
  }
});
