// The policy contract (docs/policies.md). A policy bundle is registered in ONE explicit registry
// call (src/broker/registry.ts); there is no registration by import side effect.
//
// `create()` returns an instance that may keep controller memory (an integrator, a sliding
// window) between calls; `decide` is otherwise pure: no I/O, time only from the injected clock,
// the same inputs in the same order give the same decisions. Params are passed on every call so
// they can be changed at run time without losing that memory.
import type { z } from 'zod';
import type { Clock } from '../clock.js';
import type { Decision, HostSnapshot } from '../model.js';

export interface Policy<P> {
  decide(snapshot: HostSnapshot, params: P, clock: Clock): Decision[];
}

export interface PolicyBundle<P> {
  /** Stable name, used in config and in every decision's `policy` field. */
  readonly name: string;
  readonly description: string;
  /** Validates a full parameter object (defaults merged in first). */
  readonly schema: z.ZodType<P>;
  readonly defaults: P;
  create(): Policy<P>;
}

/** A bundle with its parameter type erased, for heterogeneous lists. */
export interface AnyPolicyBundle {
  readonly name: string;
  readonly description: string;
  readonly schema: z.ZodType<unknown>;
  readonly defaults: unknown;
  create(): Policy<unknown>;
}

/** Keeps the parameter type checked where a bundle is written, erases it for the registry. */
export function definePolicy<P>(bundle: PolicyBundle<P>): AnyPolicyBundle {
  return bundle as unknown as AnyPolicyBundle;
}
