// A host.register message (already schema-checked by the M-channel) turned into the registration
// the leader stores and the policies read: memory in MiB, the 11-point power table (the host's
// measured/SPECpower table, or linear idle..peak), the cap (its cap range, else peak power), the
// trust level capped by the leader's per-host setting. Extra fields the host sent that the
// policies do not use (migration URI, frequency range, reliability) ride along in the stored JSON.
import type { HostRegistration, TrustLevel } from '../../domain/cluster.js';
import { TRUST_LEVELS, trustRank } from '../../domain/cluster.js';
import { registrationProblems } from '../../domain/leader/registration.js';
import type { HostRegister } from '../../protocol/leader.js';

export interface StoredRegistration extends HostRegistration {
  readonly migrationUri?: string;
  readonly minKHz?: number;
  readonly maxKHz?: number;
  readonly idleWatts: number;
  readonly peakWatts: number;
  /** True when the host measured its power model. */
  readonly measured: boolean;
  readonly reliability: number;
}

/** 11 points, W, at 0, 10, ..., 100 % load, straight from idle to peak. */
export function linearTable(idleWatts: number, peakWatts: number): number[] {
  return Array.from({ length: 11 }, (_, i) => Math.round((idleWatts + ((peakWatts - idleWatts) * i) / 10) * 1000) / 1000);
}

function capTrust(claimed: TrustLevel, max: TrustLevel | undefined): TrustLevel {
  if (max === undefined) return claimed;
  return TRUST_LEVELS[Math.min(trustRank(claimed), trustRank(max))] as TrustLevel;
}

export function storedRegistrationOf(r: HostRegister, maxTrust?: TrustLevel): StoredRegistration {
  return {
    id: r.host,
    cpus: r.cpus,
    memoryMiB: Math.floor(r.memoryKiB / 1024),
    powerTableWatts: r.powerTableWatts ? [...r.powerTableWatts] : linearTable(r.power.idleWatts, r.power.peakWatts),
    capWatts: r.capWatts ?? r.power.peakWatts,
    trust: capTrust(r.trust, maxTrust),
    ...(r.signals ? { signals: { ...r.signals } } : {}),
    ...(r.migrationUri !== undefined ? { migrationUri: r.migrationUri } : {}),
    minKHz: r.frequency.minKHz,
    maxKHz: r.frequency.maxKHz,
    idleWatts: r.power.idleWatts,
    peakWatts: r.power.peakWatts,
    measured: r.power.measured,
    reliability: r.reliability,
  };
}

/** Problems that make the registration unusable (`path: what is wrong`), none when it is fine. */
export function storedRegistrationProblems(reg: StoredRegistration): string[] {
  const problems = registrationProblems(reg);
  if (!(reg.peakWatts >= reg.idleWatts)) problems.push(`power.peakWatts: expected at least idleWatts (${reg.idleWatts}), got ${reg.peakWatts}`);
  if (reg.maxKHz !== undefined && reg.minKHz !== undefined && reg.maxKHz < reg.minKHz) problems.push(`frequency.maxKHz: expected at least minKHz (${reg.minKHz}), got ${reg.maxKHz}`);
  return problems;
}
