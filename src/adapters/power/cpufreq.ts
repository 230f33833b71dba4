// CPU frequency actuator over the kernel's cpufreq sysfs interface
// (Documentation/admin-guide/pm/cpufreq.rst): one directory per policy,
// /sys/devices/system/cpu/cpufreq/policyN, shared by the CPUs in affected_cpus. Units: kHz.
// scaling_available_frequencies exists with table drivers (acpi-cpufreq); EPP files exist with
// intel_pstate / amd-pstate in active mode. Requests are validated against the limits the
// policies report and refused by the limit's name (cpufreq-limits.ts); every write is read back.
import { readdir } from 'node:fs/promises';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import type { CpuFrequencyState, FrequencyActuator } from '../../domain/ports/power.js';
import { checkEpp, checkFrequencyCap, checkGovernor } from './cpufreq-limits.js';
import {
  ioError, newSysfsCounters, parseUintList, parseWord, parseWords, readAttr, readOptionalAttr, readUint, sysPath, writeAttr,
  type SysfsCounters,
} from './sysfs.js';

export const CPUFREQ_DIR = '/sys/devices/system/cpu/cpufreq';

export interface CpufreqOptions {
  /** sysfs root: "/" on a host, a fake tree in tests. */
  readonly root?: string;
  readonly counters?: SysfsCounters;
}

export class CpufreqActuator implements FrequencyActuator {
  readonly counters: SysfsCounters;
  private readonly dir: string;

  constructor(options: CpufreqOptions = {}) {
    this.dir = sysPath(options.root ?? '/', CPUFREQ_DIR);
    this.counters = options.counters ?? newSysfsCounters();
  }

  /** Policy directory names, numerically ordered ("policy0", "policy2", ...). */
  async policies(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      throw ioError(err, 'read', this.dir, this.counters);
    }
    const policies = names.filter((n) => /^policy\d{1,5}$/.test(n)).sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)));
    if (policies.length === 0) throw new VmanageError(ErrorCodes.Unsupported, `no cpufreq policy under ${this.dir}`, { path: this.dir });
    return policies;
  }

  /** The scaling driver of the first policy, e.g. "intel_pstate", "acpi-cpufreq". */
  async driver(): Promise<string> {
    const [first] = await this.policies();
    return parseWord(this.file(first as string, 'scaling_driver'), await readAttr(this.file(first as string, 'scaling_driver'), this.counters), this.counters);
  }

  async state(): Promise<CpuFrequencyState[]> {
    return await Promise.all((await this.policies()).map((p) => this.readPolicy(p)));
  }

  async readPolicy(policy: string): Promise<CpuFrequencyState> {
    const c = this.counters;
    const f = (name: string): string => this.file(policy, name);
    const words = async (name: string): Promise<string[]> => parseWords(f(name), await readAttr(f(name), c), c);
    const optional = async (name: string): Promise<string | undefined> => readOptionalAttr(f(name), c);
    const [cpus, minKHz, maxKHz, curKHz, scalingMinKHz, scalingMaxKHz, governorText, governors, availText, eppText, eppAvailText] = await Promise.all([
      readAttr(f('affected_cpus'), c).then((t) => parseUintList(f('affected_cpus'), t, c)),
      readUint(f('cpuinfo_min_freq'), c), readUint(f('cpuinfo_max_freq'), c), readUint(f('scaling_cur_freq'), c),
      readUint(f('scaling_min_freq'), c), readUint(f('scaling_max_freq'), c), readAttr(f('scaling_governor'), c),
      words('scaling_available_governors'), optional('scaling_available_frequencies'),
      optional('energy_performance_preference'), optional('energy_performance_available_preferences'),
    ]);
    if (minKHz > maxKHz) throw new VmanageError(ErrorCodes.InvalidInput, `${policy}: cpuinfo_min_freq ${minKHz} kHz is above cpuinfo_max_freq ${maxKHz} kHz`, { policy });
    const availableKHz = availText === undefined ? undefined : parseUintList(f('scaling_available_frequencies'), availText, c).sort((a, b) => a - b);
    const epp = eppText === undefined ? undefined : parseWord(f('energy_performance_preference'), eppText, c);
    const eppAvailable = eppAvailText === undefined ? undefined : parseWords(f('energy_performance_available_preferences'), eppAvailText, c);
    return {
      policy, cpus, curKHz, scalingMinKHz, scalingMaxKHz,
      governor: parseWord(f('scaling_governor'), governorText, c),
      ...(epp === undefined ? {} : { epp }),
      limits: {
        minKHz, maxKHz, governors,
        ...(availableKHz === undefined ? {} : { availableKHz }),
        ...(eppAvailable === undefined ? {} : { epp: eppAvailable }),
      },
    };
  }

  /** Caps every policy at kHz; refused (OUT_OF_BOUNDS, naming the limit) outside the hardware limits. */
  async setMaxFrequency(kHz: number): Promise<void> {
    const policies = await this.state();
    checkFrequencyCap(kHz, policies);
    for (const p of policies) await this.writeChecked(p.policy, 'scaling_max_freq', kHz);
  }

  /** Restores scaling_max_freq to cpuinfo_max_freq on every policy. */
  async clearMaxFrequency(): Promise<void> {
    for (const p of await this.state()) await this.writeChecked(p.policy, 'scaling_max_freq', p.limits.maxKHz);
  }

  async setGovernor(governor: string): Promise<void> {
    const policies = await this.state();
    checkGovernor(governor, policies);
    for (const p of policies) await this.writeChecked(p.policy, 'scaling_governor', governor);
  }

  async setEpp(epp: string): Promise<void> {
    const policies = await this.state();
    checkEpp(epp, policies, await this.driver());
    for (const p of policies) await this.writeChecked(p.policy, 'energy_performance_preference', epp);
  }

  private file(policy: string, name: string): string {
    return `${this.dir}/${policy}/${name}`;
  }

  /**
   * Writes, then reads back. Newer kernels round scaling_max_freq down to a table frequency
   * (CPUFREQ_RELATION_H), so for a frequency a read-back at or below the request is accepted;
   * a name must read back exactly.
   */
  private async writeChecked(policy: string, name: string, value: string | number): Promise<void> {
    const path = this.file(policy, name);
    await writeAttr(path, value, this.counters);
    const back = await readAttr(path, this.counters);
    const ok = typeof value === 'number' ? /^\d+$/.test(back) && Number(back) <= value : back === value;
    if (!ok) {
      throw new VmanageError(ErrorCodes.PowerCapRejected, `${path}: wrote ${value}, the kernel shows ${back}`, { path, wrote: value, readBack: back });
    }
  }
}
