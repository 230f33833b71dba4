// powerd's cpufreq actuator: the generic CpufreqActuator with a short path for the one request the
// control loop makes often, a frequency cap (SetFrequencyCap / ClearFrequencyCap). Units: kHz.
//
// Why: the generic setMaxFrequency reads every attribute of every policy (11 files per policy)
// to validate, then writes the policies one after another. Measured through powerd on 4 policies
// that was ~3.4 ms of the ~4 ms a cap change took (the D-Bus round trip is ~0.5 ms). Here the
// check reads only what it uses (cpuinfo_min_freq, cpuinfo_max_freq, scaling_min_freq of each
// policy) and refuses exactly as checkFrequencyCap does (by the limit's name); the
// policies are then written, each write read back as before.
//
// The short path does its sysfs I/O synchronously, on purpose: ~20 tiny attribute reads/writes
// took p50 0.8 ms / p99 1.8 ms on the fake tree here, the same through libuv's thread pool
// p50 1.2 ms / p99 5.7 ms (each attribute is 3 pool round trips: open, read/write, close).
// The event loop is held for that long; powerd runs one mutation at a time anyway, and a read
// or property request waits at most that long. Reading a sysfs attribute does not block on other
// processes; a cpufreq write takes the policy's lock in the kernel and returns when it is applied.
import { readdirSync } from 'node:fs';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import { CPUFREQ_DIR, CpufreqActuator, type CpufreqOptions } from '../../adapters/power/cpufreq.js';
import { outOfBounds } from '../../adapters/power/cpufreq-limits.js';
import { ioError, parseUint, readAttrSync, sysPath, writeAttrSync } from '../../adapters/power/sysfs.js';

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

/** A synchronous step as a promise: its errors become rejections, never throws. */
function run(fn: () => void): Promise<void> {
  try {
    fn();
    return Promise.resolve();
  } catch (err) {
    return Promise.reject(err as Error);
  }
}

export class PowerdCpufreq extends CpufreqActuator {
  /** The policies' directory, as CpufreqActuator derives it from the same root. */
  private readonly policyDir: string;

  constructor(options: CpufreqOptions = {}) {
    super(options);
    this.policyDir = sysPath(options.root ?? '/', CPUFREQ_DIR);
  }

  override setMaxFrequency(kHz: number): Promise<void> {
    return run(() => {
      const bounds = this.capBounds();
      checkCapBounds(kHz, bounds);
      this.writeAll(bounds.map((b) => [b.policy, kHz]));
    });
  }

  override clearMaxFrequency(): Promise<void> {
    return run(() => this.writeAll(this.capBounds().map((b) => [b.policy, b.maxKHz])));
  }

  private capBounds(): CapBounds[] {
    let names: string[];
    try {
      names = readdirSync(this.policyDir);
    } catch (err) {
      throw ioError(err, 'read', this.policyDir, this.counters);
    }
    const policies = names.filter((n) => /^policy\d{1,5}$/.test(n)).sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)));
    if (policies.length === 0) throw new VmanageError(ErrorCodes.Unsupported, `no cpufreq policy under ${this.policyDir}`, { path: this.policyDir });
    return policies.map((policy) => {
      const [minKHz, maxKHz, scalingMinKHz] = ['cpuinfo_min_freq', 'cpuinfo_max_freq', 'scaling_min_freq'].map((name) => this.readUint(policy, name)) as [number, number, number];
      if (minKHz > maxKHz) throw new VmanageError(ErrorCodes.InvalidInput, `${policy}: cpuinfo_min_freq ${minKHz} kHz is above cpuinfo_max_freq ${maxKHz} kHz`, { policy });
      return { policy, minKHz, maxKHz, scalingMinKHz };
    });
  }

  private readUint(policy: string, name: string): number {
    const path = this.attr(policy, name);
    return parseUint(path, readAttrSync(path, this.counters), this.counters);
  }

  /** Tries every policy, then throws the first failure (policy order). */
  private writeAll(writes: readonly (readonly [string, number])[]): void {
    let first: unknown;
    for (const [policy, kHz] of writes) {
      try {
        this.writeFrequency(policy, kHz);
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== undefined) throw first;
  }

  /**
   * Writes scaling_max_freq and reads it back: newer kernels round it down to a table frequency,
   * so a read-back at or below the request is accepted (as CpufreqActuator does).
   */
  private writeFrequency(policy: string, kHz: number): void {
    const path = this.attr(policy, 'scaling_max_freq');
    writeAttrSync(path, kHz, this.counters);
    const back = readAttrSync(path, this.counters);
    if (!/^\d+$/.test(back) || Number(back) > kHz) {
      throw new VmanageError(ErrorCodes.PowerCapRejected, `${path}: wrote ${kHz}, the kernel shows ${back}`, { path, wrote: kHz, readBack: back });
    }
  }

  private attr(policy: string, name: string): string {
    return `${this.policyDir}/${policy}/${name}`;
  }
}
