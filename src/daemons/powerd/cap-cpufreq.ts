// powerd's cpufreq actuator: the generic CpufreqActuator with a short path for the one request the
// control loop makes often, a frequency cap (SetFrequencyCap / ClearFrequencyCap). Units: kHz.
//
// Why: the generic setMaxFrequency reads every attribute of every policy (11 files per policy)
// to validate, then writes the policies one after another. Measured through powerd on 4 policies
// that was ~3.4 ms of the ~4 ms a cap change took (the D-Bus round trip is ~0.5 ms). Here the
// check reads only what it uses (cpuinfo_min_freq, cpuinfo_max_freq, scaling_min_freq of each
// policy, concurrently) and refuses exactly as checkFrequencyCap does (by the limit's name); the
// policies are then written concurrently, each write read back as before. All I/O of a request
// has settled before it resolves or rejects, so PowerService's one-request-at-a-time holds.
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import { CPUFREQ_DIR, CpufreqActuator, type CpufreqOptions } from '../../adapters/power/cpufreq.js';
import { outOfBounds } from '../../adapters/power/cpufreq-limits.js';
import { readAttr, readUint, sysPath, writeAttr } from '../../adapters/power/sysfs.js';

interface CapBounds {
  readonly policy: string;
  readonly minKHz: number;
  readonly maxKHz: number;
  readonly scalingMinKHz: number;
}

/** Same contract as checkFrequencyCap (cpufreq-limits.ts), on just the attributes it looks at. */
export function checkCapBounds(kHz: number, bounds: readonly CapBounds[]): void {
  if (!Number.isSafeInteger(kHz) || kHz <= 0) {
    throw new VmanageError(ErrorCodes.InvalidInput, `frequency cap: expected a positive integer kHz, got ${kHz}`, { value: kHz });
  }
  if (bounds.length === 0) throw new VmanageError(ErrorCodes.Unsupported, 'no cpufreq policy on this host', {});
  for (const b of bounds) {
    if (kHz > b.maxKHz) throw outOfBounds('cpuinfo_max_freq', b.maxKHz, kHz, 'kHz', b.policy);
    if (kHz < b.minKHz) throw outOfBounds('cpuinfo_min_freq', b.minKHz, kHz, 'kHz', b.policy);
    if (kHz < b.scalingMinKHz) throw outOfBounds('scaling_min_freq', b.scalingMinKHz, kHz, 'kHz', b.policy);
  }
}

/** Resolves once every promise settled; rejects with the first failure (in argument order). */
async function allSettledOrThrow(work: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(work);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

export class PowerdCpufreq extends CpufreqActuator {
  /** The policies' directory, as CpufreqActuator derives it from the same root. */
  private readonly policyDir: string;

  constructor(options: CpufreqOptions = {}) {
    super(options);
    this.policyDir = sysPath(options.root ?? '/', CPUFREQ_DIR);
  }

  override async setMaxFrequency(kHz: number): Promise<void> {
    const bounds = await this.capBounds();
    checkCapBounds(kHz, bounds);
    await allSettledOrThrow(bounds.map((b) => this.writeFrequency(b.policy, kHz)));
  }

  override async clearMaxFrequency(): Promise<void> {
    const bounds = await this.capBounds();
    await allSettledOrThrow(bounds.map((b) => this.writeFrequency(b.policy, b.maxKHz)));
  }

  private async capBounds(): Promise<CapBounds[]> {
    const policies = await this.policies();
    const c = this.counters;
    return await Promise.all(policies.map(async (policy) => {
      const [minKHz, maxKHz, scalingMinKHz] = await Promise.all([
        readUint(this.attr(policy, 'cpuinfo_min_freq'), c), readUint(this.attr(policy, 'cpuinfo_max_freq'), c), readUint(this.attr(policy, 'scaling_min_freq'), c),
      ]);
      if (minKHz > maxKHz) throw new VmanageError(ErrorCodes.InvalidInput, `${policy}: cpuinfo_min_freq ${minKHz} kHz is above cpuinfo_max_freq ${maxKHz} kHz`, { policy });
      return { policy, minKHz, maxKHz, scalingMinKHz };
    }));
  }

  /**
   * Writes scaling_max_freq and reads it back: newer kernels round it down to a table frequency,
   * so a read-back at or below the request is accepted (as CpufreqActuator does).
   */
  private async writeFrequency(policy: string, kHz: number): Promise<void> {
    const path = this.attr(policy, 'scaling_max_freq');
    await writeAttr(path, kHz, this.counters);
    const back = await readAttr(path, this.counters);
    if (!/^\d+$/.test(back) || Number(back) > kHz) {
      throw new VmanageError(ErrorCodes.PowerCapRejected, `${path}: wrote ${kHz}, the kernel shows ${back}`, { path, wrote: kHz, readBack: back });
    }
  }

  private attr(policy: string, name: string): string {
    return `${this.policyDir}/${policy}/${name}`;
  }
}
