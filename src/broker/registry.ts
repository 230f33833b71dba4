// The policy registry: bundles {name, schema, defaults, create} are registered in ONE explicit
// call, createPolicyRegistry(bundles); no side-effect registration, no module-level singleton.
// instantiate() validates every policy's params (defaults merged under what config gives) and
// reports every problem at once as `path: problem`.
import type { Policy, AnyPolicyBundle } from '../domain/policies/types.js';
import { ErrorCodes, VmanageError } from '../domain/errors.js';

export interface PolicySpec {
  readonly name: string;
  /** Overrides of the bundle's defaults (a plain object). */
  readonly params?: unknown;
}

export interface PolicyInstance {
  readonly name: string;
  readonly params: unknown;
  readonly policy: Policy<unknown>;
}

export interface PolicyRegistry {
  names(): string[];
  get(name: string): AnyPolicyBundle | undefined;
  /** Validated params (defaults merged in) or a list of `path: problem` strings. */
  validate(name: string, params: unknown, path?: string): { ok: true; params: unknown } | { ok: false; problems: string[] };
  /** Creates a fresh instance of each policy; throws CONFIG_INVALID listing every problem. */
  instantiate(specs: readonly PolicySpec[], path?: string): PolicyInstance[];
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function createPolicyRegistry(bundles: readonly AnyPolicyBundle[]): PolicyRegistry {
  const byName = new Map<string, AnyPolicyBundle>();
  for (const b of bundles) {
    if (!/^[a-z][a-z0-9-]*$/.test(b.name)) throw new VmanageError(ErrorCodes.InvalidInput, `policy name "${b.name}": expected lower-case words joined by "-"`, { name: b.name });
    if (byName.has(b.name)) throw new VmanageError(ErrorCodes.InvalidInput, `policy "${b.name}" registered twice`, { name: b.name });
    const checked = b.schema.safeParse(b.defaults);
    if (!checked.success) throw new VmanageError(ErrorCodes.InvalidInput, `policy "${b.name}": its defaults do not pass its schema`, { issues: checked.error.issues.map((i) => i.message) });
    byName.set(b.name, b);
  }

  const validate: PolicyRegistry['validate'] = (name, params, path = name) => {
    const bundle = byName.get(name);
    if (!bundle) return { ok: false, problems: [`${path}: unknown policy "${name}" (known: ${[...byName.keys()].join(', ')})`] };
    if (params !== undefined && !isPlainObject(params)) return { ok: false, problems: [`${path}: expected an object of parameters`] };
    const merged = { ...(bundle.defaults as Record<string, unknown>), ...(params ?? {}) };
    const r = bundle.schema.safeParse(merged);
    if (r.success) return { ok: true, params: r.data };
    return { ok: false, problems: r.error.issues.map((i) => `${[path, ...i.path.map(String)].join('.')}: ${i.message}`) };
  };

  return {
    names: () => [...byName.keys()],
    get: (name) => byName.get(name),
    validate,
    instantiate(specs, path = 'policies') {
      const problems: string[] = [];
      const out: PolicyInstance[] = [];
      const seen = new Set<string>();
      specs.forEach((spec, i) => {
        if (seen.has(spec.name)) problems.push(`${path}.${i}.name: policy "${spec.name}" listed twice`);
        seen.add(spec.name);
        const v = validate(spec.name, spec.params, `${path}.${i}.params`);
        if (!v.ok) problems.push(...v.problems);
        else out.push({ name: spec.name, params: v.params, policy: (byName.get(spec.name) as AnyPolicyBundle).create() });
      });
      if (problems.length > 0) throw new VmanageError(ErrorCodes.ConfigInvalid, problems.join('\n'), { problems });
      return out;
    },
  };
}
