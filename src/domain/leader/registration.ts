// A host's registration (untrusted input from the network) turned into the attributes the
// leader's policies use. Every problem is reported as `path: what is wrong` at once.
import { TRUST_LEVELS, trustRank, type ClusterHost, type HostAttributes, type HostPowerState, type HostRegistration, type TrustLevel } from '../cluster.js';
import { ErrorCodes, VmanageError } from '../errors.js';
import { tableModel } from '../power-model.js';

export function registrationProblems(reg: HostRegistration): string[] {
  const problems: string[] = [];
  const positive = (path: string, x: unknown): void => {
    if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0) problems.push(`${path}: expected a positive number, got ${String(x)}`);
  };
  if (typeof reg.id !== 'string' || !/^[A-Za-z0-9._:-]{1,128}$/.test(reg.id)) problems.push(`id: expected 1-128 characters of A-Z a-z 0-9 . _ : -, got ${JSON.stringify(reg.id)}`);
  positive('cpus', reg.cpus);
  positive('memoryMiB', reg.memoryMiB);
  positive('capWatts', reg.capWatts);
  if (reg.floorWatts !== undefined) positive('floorWatts', reg.floorWatts);
  if (!TRUST_LEVELS.includes(reg.trust)) problems.push(`trust: expected one of ${TRUST_LEVELS.join(', ')}, got ${String(reg.trust)}`);
  if (!Array.isArray(reg.powerTableWatts)) problems.push('powerTableWatts: expected 11 numbers (W at 0, 10, ..., 100 %)');
  else {
    try {
      tableModel({ name: 'powerTableWatts', watts: reg.powerTableWatts });
    } catch (err) {
      problems.push(`powerTableWatts: ${(err as Error).message}`);
    }
  }
  return problems;
}

/**
 * The trust level the leader uses: the configured one, lowered by measured signals, never raised
 * (a host's own report is a claim, not an attestation): `attested` needs Secure Boot on and a TPM
 * present, `trusted` needs Secure Boot not reported off. Unknown signals leave the level as is
 * up to `trusted`.
 */
export function effectiveTrust(configured: TrustLevel, signals?: HostRegistration['signals']): TrustLevel {
  let level = trustRank(configured);
  if (level >= trustRank('attested') && !(signals?.secureBoot === true && signals.tpm === true)) level = trustRank('trusted');
  if (level >= trustRank('trusted') && signals?.secureBoot === false) level = trustRank('standard');
  return TRUST_LEVELS[level] as TrustLevel;
}

/** Throws INVALID_INPUT listing every problem. */
export function hostAttributesOf(reg: HostRegistration): HostAttributes {
  const problems = registrationProblems(reg);
  if (problems.length > 0) throw new VmanageError(ErrorCodes.InvalidInput, `host registration: ${problems.join('; ')}`, { problems });
  return {
    cpus: reg.cpus, memoryMiB: reg.memoryMiB, capWatts: reg.capWatts, trust: effectiveTrust(reg.trust, reg.signals),
    powerModel: tableModel({ name: reg.id, watts: reg.powerTableWatts }),
    ...(reg.floorWatts !== undefined ? { floorWatts: reg.floorWatts } : {}),
  };
}

/** A stored host (registration plus leader-side state) as the policies see it. */
export function clusterHostOf(rec: { registration: HostRegistration; state: HostPowerState; stateSince: number; budgetWatts: number; reliability: number }, measuredWatts?: number): ClusterHost {
  return {
    id: rec.registration.id, attrs: hostAttributesOf(rec.registration), state: rec.state, stateSince: rec.stateSince,
    budgetWatts: rec.budgetWatts, reliability: rec.reliability, ...(measuredWatts !== undefined ? { measuredWatts } : {}),
  };
}
