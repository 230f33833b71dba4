// Scenarios: `cloudsim` (no power budget: CloudSim's set-up) and `capped` (a cluster budget of
// 70 % of the peak cluster power of the same workload run uncapped under `dvfs`).
import { VmanageError, ErrorCodes } from '../domain/errors.js';
import { createPolicy } from './policies/index.js';
import { simulate, type SimResult } from './run.js';
import type { Workload } from './workload.js';

export const SCENARIOS = ['cloudsim', 'capped'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export function parseScenario(name: string): ScenarioName {
  if ((SCENARIOS as readonly string[]).includes(name)) return name as ScenarioName;
  throw new VmanageError(ErrorCodes.InvalidInput, `scenario '${name}': unknown; expected one of ${SCENARIOS.join(', ')}`, { name });
}

/** Cluster budget for the scenario, W (undefined = none). */
export function budgetFor(scenario: ScenarioName, workload: Workload): number | undefined {
  if (scenario === 'cloudsim') return undefined;
  const uncapped = simulate({ workload, policy: createPolicy('dvfs') });
  return 0.7 * uncapped.peakWatts;
}

export function runScenario(
  workload: Workload, policy: string, scenario: ScenarioName, budgetW = budgetFor(scenario, workload),
  onStep?: (step: number, clusterWatts: number, migrations: number, slaViolationS: number) => void,
): SimResult {
  return simulate({ workload, policy: createPolicy(policy), budgetW, ...(onStep ? { onStep } : {}) });
}
