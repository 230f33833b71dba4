// The built-in host policies, for the ONE explicit registry call a daemon or the simulator makes:
//   createPolicyRegistry(builtinPolicies())
export { budgetPolicy, budgetParams, budgetDefaults, POLICY_BUDGET, type BudgetParams } from './budget.js';
export { slaDvfsPolicy, slaDvfsParams, slaDvfsDefaults, POLICY_SLA_DVFS, type SlaDvfsParams } from './sla-dvfs.js';
export { vmSharesPolicy, vmSharesParams, vmSharesDefaults, POLICY_VM_SHARES, classifyVm, type VmSharesParams } from './vm-shares.js';
export { violationTriggerPolicy, violationTriggerParams, violationTriggerDefaults, POLICY_VIOLATION_TRIGGER, type ViolationTriggerParams } from './violation-trigger.js';
export { failSafePolicy, failSafeParams, failSafeDefaults, POLICY_FAIL_SAFE, effectiveBudget, type FailSafeParams, type BudgetInputs, type FailSafeBudgetParams } from './fail-safe.js';
export { definePolicy, type Policy, type PolicyBundle, type AnyPolicyBundle } from './types.js';
export * from './predict.js';

import { budgetPolicy } from './budget.js';
import { failSafePolicy } from './fail-safe.js';
import { slaDvfsPolicy } from './sla-dvfs.js';
import { violationTriggerPolicy } from './violation-trigger.js';
import { vmSharesPolicy } from './vm-shares.js';
import type { AnyPolicyBundle } from './types.js';

export function builtinPolicies(): AnyPolicyBundle[] {
  return [slaDvfsPolicy, budgetPolicy, vmSharesPolicy, violationTriggerPolicy, failSafePolicy];
}
