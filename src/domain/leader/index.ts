// The leader's policies as bundles {name, description, schema, defaults, create}, the same shape
// as the host policies (domain/policies/types.ts), listed in ONE explicit call: leaderPolicies().
// They decide on the cluster state instead of a host snapshot, so they have their own instance
// types; the leader daemon validates their params with the bundle's schema like the broker does.
import type { z } from 'zod';
import type { ClusterState, VmRequest } from '../cluster.js';
import { budgetSplitDefaults, budgetSplitParams, splitBudget, type BudgetConsumer, type BudgetSplit, type BudgetSplitParams } from './budget-split.js';
import { buildIndex, type ClusterIndex } from './cluster-index.js';
import { migrationDefaults, migrationParams, planMigrations, type MigrationParams, type MigrationRequest, type Plan } from './migration.js';
import { placeVm, placementDefaults, placementParams, type PlacementParams, type PlacementResult } from './placement.js';
import { MigrationLedger } from './stability.js';

export interface LeaderPolicyBundle<P, I> {
  readonly name: string;
  readonly description: string;
  readonly schema: z.ZodType<P>;
  readonly defaults: P;
  create(): I;
}

export interface PlacementPolicy { place(index: ClusterIndex, vm: VmRequest, params: PlacementParams): PlacementResult }
export interface BudgetPolicy { split(totalWatts: number, consumers: readonly BudgetConsumer[], params: BudgetSplitParams): BudgetSplit }
/** Keeps the last budgets (for hysteresis) and the migration ledger (stability) between calls. */
export interface MigrationPolicy {
  readonly ledger: MigrationLedger;
  /** eligible: optional host filter per VM (ClusterIndex.eligible). */
  plan(state: ClusterState, requests: readonly MigrationRequest[], params: MigrationParams, eligible?: ClusterIndex['eligible']): Plan;
}

export const placementPolicy: LeaderPolicyBundle<PlacementParams, PlacementPolicy> = {
  name: 'leader-placement', description: 'filters hosts (state, memory, CPU, reliability, trust, affinity, budget) and scores the rest (consolidation, power headroom, SLA risk)',
  schema: placementParams, defaults: placementDefaults, create: () => ({ place: placeVm }),
};

export const budgetPolicy: LeaderPolicyBundle<BudgetSplitParams, BudgetPolicy> = {
  name: 'leader-budget-split', description: 'splits a power budget over hosts or clusters: floors first, then demand by water-filling, then caps; hysteresis',
  schema: budgetSplitParams, defaults: budgetSplitDefaults,
  create: () => {
    let last: Map<string, number> | undefined;
    return {
      split(total, consumers, params) {
        const r = splitBudget(total, consumers, params, last);
        last = r.budgets;
        return r;
      },
    };
  },
};

export const migrationPolicy: LeaderPolicyBundle<MigrationParams, MigrationPolicy> = {
  name: 'leader-migration', description: 'plans migrations on host requests and in an audit (minimum migration cost, destination within budget and CPU threshold at peak), consolidation and power-on, under stability rules',
  schema: migrationParams, defaults: migrationDefaults,
  create: () => {
    const ledger = new MigrationLedger();
    return { ledger, plan: (state, requests, params, eligible) => planMigrations(state, requests, ledger, params, eligible) };
  },
};

export function leaderPolicies(): readonly [typeof placementPolicy, typeof budgetPolicy, typeof migrationPolicy] {
  return [placementPolicy, budgetPolicy, migrationPolicy];
}

export { buildIndex };
