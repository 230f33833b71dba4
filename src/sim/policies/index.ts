// The policy registry: one explicit table of names -> factories (no registration by import).
import { VmanageError, ErrorCodes } from '../../domain/errors.js';
import { dvfs, migrationPolicy, npa } from './cloudsim.js';
import { iqrDetector, lrDetector, madDetector, thr } from './detectors.js';
import type { SimPolicy } from './types.js';
import { uncoordinated } from './uncoordinated.js';
import { vmanagePolicy } from './vmanage.js';

const FACTORIES: Readonly<Record<string, () => SimPolicy>> = {
  npa: () => npa,
  dvfs: () => dvfs,
  'thr-mmt-0.8': () => migrationPolicy('thr-mmt-0.8', thr(0.8), 0.8),
  'thr-mmt-1.0': () => migrationPolicy('thr-mmt-1.0', thr(1.0), 1.0),
  'iqr-mmt-1.5': () => migrationPolicy('iqr-mmt-1.5', iqrDetector(1.5), 0.7),
  'mad-mmt-2.5': () => migrationPolicy('mad-mmt-2.5', madDetector(2.5), 0.7),
  'lrr-mmt-1.2': () => migrationPolicy('lrr-mmt-1.2', lrDetector('lrr-1.2', 1.2), 0.7),
  'lr-mmt-1.2': () => migrationPolicy('lr-mmt-1.2', lrDetector('lr-1.2', 1.2), 0.7),
  uncoordinated: () => uncoordinated,
  vmanage: vmanagePolicy,
};

const extra = new Map<string, () => SimPolicy>();

/** Adds policies defined elsewhere in src/sim (uncoordinated, vmanage); one explicit call. */
export function registerPolicies(more: Readonly<Record<string, () => SimPolicy>>): void {
  for (const [k, f] of Object.entries(more)) extra.set(k, f);
}

export function policyNames(): string[] {
  return [...Object.keys(FACTORIES), ...extra.keys()];
}

export function createPolicy(name: string): SimPolicy {
  const f = FACTORIES[name] ?? extra.get(name);
  if (!f) throw new VmanageError(ErrorCodes.InvalidInput, `policy '${name}': unknown; expected one of ${policyNames().join(', ')}`, { name });
  return f();
}
