// Validation of frequency caps, governors and EPP values against what the hardware reports,
// shared by the cpufreq (sysfs) and simulated actuators and by vmanage-powerd, so that a request
// is refused the same way everywhere: by the name of the limit it breaks. Units: kHz.
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import type { CpuFrequencyState } from '../../domain/ports/power.js';

export function outOfBounds(limit: string, limitValue: number, value: number, unit: string, where: string): VmanageError {
  const rel = value > limitValue ? 'above' : 'below';
  return new VmanageError(ErrorCodes.OutOfBounds, `${value} ${unit} is ${rel} ${limit} (${limitValue} ${unit}) of ${where}`, { limit, limitValue, value, unit, where });
}

function requireKHz(kHz: number): void {
  if (!Number.isSafeInteger(kHz) || kHz <= 0) {
    throw new VmanageError(ErrorCodes.InvalidInput, `frequency cap: expected a positive integer kHz, got ${kHz}`, { value: kHz });
  }
}

/** A cap must lie within [max(cpuinfo_min_freq, scaling_min_freq), cpuinfo_max_freq] of every policy. */
export function checkFrequencyCap(kHz: number, policies: readonly CpuFrequencyState[]): void {
  requireKHz(kHz);
  if (policies.length === 0) throw new VmanageError(ErrorCodes.Unsupported, 'no cpufreq policy on this host', {});
  for (const p of policies) {
    if (kHz > p.limits.maxKHz) throw outOfBounds('cpuinfo_max_freq', p.limits.maxKHz, kHz, 'kHz', p.policy);
    if (kHz < p.limits.minKHz) throw outOfBounds('cpuinfo_min_freq', p.limits.minKHz, kHz, 'kHz', p.policy);
    if (kHz < p.scalingMinKHz) throw outOfBounds('scaling_min_freq', p.scalingMinKHz, kHz, 'kHz', p.policy);
  }
}

export function checkGovernor(governor: string, policies: readonly CpuFrequencyState[]): void {
  for (const p of policies) {
    if (!p.limits.governors.includes(governor)) {
      throw new VmanageError(ErrorCodes.InvalidInput,
        `governor ${JSON.stringify(governor)} is not in scaling_available_governors (${p.limits.governors.join(' ')}) of ${p.policy}`,
        { limit: 'scaling_available_governors', value: governor, allowed: p.limits.governors, where: p.policy });
    }
  }
}

export function checkEpp(epp: string, policies: readonly CpuFrequencyState[], driver: string): void {
  for (const p of policies) {
    if (!p.limits.epp) throw new VmanageError(ErrorCodes.Unsupported, `${driver} has no energy_performance_preference (${p.policy})`, { adapter: driver, capability: 'energy_performance_preference' });
    if (!p.limits.epp.includes(epp)) {
      throw new VmanageError(ErrorCodes.InvalidInput,
        `EPP ${JSON.stringify(epp)} is not in energy_performance_available_preferences (${p.limits.epp.join(' ')}) of ${p.policy}`,
        { limit: 'energy_performance_available_preferences', value: epp, allowed: p.limits.epp, where: p.policy });
    }
    // intel_pstate refuses EPP changes (EBUSY) while the performance governor pins EPP to 0.
    if (p.governor === 'performance' && epp !== 'performance') {
      throw new VmanageError(ErrorCodes.Unavailable, `EPP is fixed to performance while ${p.policy} runs the performance governor`, { where: p.policy, governor: p.governor });
    }
  }
}
