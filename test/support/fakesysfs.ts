// A fake sysfs tree shaped like the kernel's, for the cpufreq and powercap (RAPL) adapters on
// machines without them. Shapes follow Documentation/admin-guide/pm/cpufreq.rst,
// intel_pstate.rst, Documentation/power/powercap/powercap.rst and the attribute modes the kernel
// registers (cpufreq.c, intel_pstate.c, powercap_sys.c):
//
//   ROOT/sys/devices/system/cpu/cpufreq/policyN/<attrs>     (policy directories)
//   ROOT/sys/devices/system/cpu/cpuN/cpufreq -> ../cpufreq/policyN
//   ROOT/sys/devices/system/cpu/intel_pstate/status         (intel_pstate only)
//   ROOT/sys/devices/virtual/powercap/intel-rapl/{enabled, intel-rapl:N/{..., intel-rapl:N:M/}}
//   ROOT/sys/class/powercap/intel-rapl[:N[:M]] -> ../../devices/virtual/powercap/intel-rapl/...
//
// Values end with a newline; lists are printed the kernel's way ("a b c \n": each item followed
// by a space). Files the kernel registers read-only are 0444 (0400 for energy_uj and
// cpuinfo_cur_freq, which only root may read). A root process keeps CAP_DAC_OVERRIDE and could
// still write a 0444 file here, which the kernel's sysfs refuses (EACCES) even for root: run the
// writer without that capability (`setpriv --bounding-set=-dac_override`) to get the kernel's
// behaviour, as the powerd tests do.
import { chmod, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { tempDir, type Teardown } from './proc.js';

export interface PolicySpec {
  readonly cpus: readonly number[];
  readonly minKHz: number;
  readonly maxKHz: number;
  readonly curKHz?: number;
  readonly governor: string;
  readonly governors: readonly string[];
  /** acpi-cpufreq only: scaling_available_frequencies, highest first as the kernel prints them. */
  readonly availableKHz?: readonly number[];
  /** intel_pstate / amd-pstate only. */
  readonly epp?: string;
  readonly eppAvailable?: readonly string[];
  readonly driver: string;
  readonly baseKHz?: number;
}

export interface RaplZoneSpec {
  readonly name: string;
  readonly energyUj: number;
  readonly maxEnergyRangeUj: number;
  readonly limitUw: number;
  readonly maxPowerUw: number;
  readonly timeWindowUs?: number;
  readonly enabled?: boolean;
}

export interface RaplPackageSpec extends RaplZoneSpec {
  readonly subzones?: readonly RaplZoneSpec[];
}

export interface FakeSysfsSpec {
  readonly policies?: readonly PolicySpec[];
  readonly rapl?: readonly RaplPackageSpec[];
}

export const EPP_AVAILABLE = ['default', 'performance', 'balance_performance', 'balance_power', 'power'] as const;

/** An intel_pstate (active mode, HWP) host: one policy per CPU, EPP, governors performance/powersave. */
export function intelPstatePolicies(cpus = 2, over: Partial<PolicySpec> = {}): PolicySpec[] {
  return Array.from({ length: cpus }, (_, i) => ({
    cpus: [i], minKHz: 800_000, maxKHz: 3_900_000, curKHz: 2_100_000, baseKHz: 2_100_000,
    governor: 'powersave', governors: ['performance', 'powersave'],
    epp: 'balance_performance', eppAvailable: [...EPP_AVAILABLE], driver: 'intel_pstate', ...over,
  }));
}

/** An acpi-cpufreq host: one policy for all CPUs (shared P-state), a frequency table, no EPP. */
export function acpiCpufreqPolicies(cpus = 2, over: Partial<PolicySpec> = {}): PolicySpec[] {
  return [{
    cpus: Array.from({ length: cpus }, (_, i) => i), minKHz: 1_200_000, maxKHz: 2_400_000, curKHz: 2_400_000,
    governor: 'ondemand', governors: ['conservative', 'ondemand', 'userspace', 'powersave', 'performance', 'schedutil'],
    availableKHz: [2_400_000, 2_000_000, 1_600_000, 1_200_000], driver: 'acpi-cpufreq', ...over,
  }];
}

export function raplPackage(index: number, over: Partial<RaplPackageSpec> = {}): RaplPackageSpec {
  return {
    name: `package-${index}`, energyUj: 1_000_000, maxEnergyRangeUj: 262_143_328_850,
    limitUw: 125_000_000, maxPowerUw: 125_000_000, timeWindowUs: 27_983_872, enabled: true,
    subzones: [{ name: 'core', energyUj: 500_000, maxEnergyRangeUj: 262_143_328_850, limitUw: 0, maxPowerUw: 0, enabled: false },
      { name: 'dram', energyUj: 100_000, maxEnergyRangeUj: 65_712_999_613, limitUw: 0, maxPowerUw: 0, enabled: false }],
    ...over,
  };
}

export interface FakeSysfs {
  /** The directory to pass as the adapters' sysfs root. */
  readonly root: string;
  path(rel: string): string;
  read(rel: string): Promise<string>;
  /** Writes a value the way the kernel would show it (with the trailing newline). */
  set(rel: string, value: string | number): Promise<void>;
  /** Sets energy_uj of package N (the counter the kernel advances). */
  setEnergy(pkg: number, uj: number): Promise<void>;
}

const CPU = 'sys/devices/system/cpu';
const POWERCAP = 'sys/devices/virtual/powercap/intel-rapl';

async function attr(dir: string, name: string, value: string | number, mode: number): Promise<void> {
  const p = join(dir, name);
  await writeFile(p, `${value}\n`);
  await chmod(p, mode);
}

const list = (xs: readonly (string | number)[]): string => `${xs.map((x) => `${x} `).join('')}`;

async function writePolicy(root: string, index: number, p: PolicySpec): Promise<void> {
  const dir = join(root, CPU, 'cpufreq', `policy${index}`);
  await mkdir(dir, { recursive: true });
  const ro = 0o444;
  const rw = 0o644;
  await attr(dir, 'affected_cpus', list(p.cpus), ro);
  await attr(dir, 'related_cpus', list(p.cpus), ro);
  await attr(dir, 'cpuinfo_min_freq', p.minKHz, ro);
  await attr(dir, 'cpuinfo_max_freq', p.maxKHz, ro);
  await attr(dir, 'cpuinfo_transition_latency', p.driver === 'intel_pstate' ? 0 : 10_000, ro);
  await attr(dir, 'cpuinfo_cur_freq', p.curKHz ?? p.maxKHz, 0o400);
  await attr(dir, 'scaling_min_freq', p.minKHz, rw);
  await attr(dir, 'scaling_max_freq', p.maxKHz, rw);
  await attr(dir, 'scaling_cur_freq', p.curKHz ?? p.maxKHz, ro);
  await attr(dir, 'scaling_driver', p.driver, ro);
  await attr(dir, 'scaling_governor', p.governor, rw);
  await attr(dir, 'scaling_available_governors', list(p.governors), ro);
  await attr(dir, 'scaling_setspeed', '<unsupported>', rw);
  if (p.availableKHz) await attr(dir, 'scaling_available_frequencies', list(p.availableKHz), ro);
  if (p.baseKHz !== undefined) await attr(dir, 'base_frequency', p.baseKHz, ro);
  if (p.epp !== undefined) {
    await attr(dir, 'energy_performance_preference', p.epp, rw);
    await attr(dir, 'energy_performance_available_preferences', list(p.eppAvailable ?? EPP_AVAILABLE), ro);
  }
  for (const cpu of p.cpus) {
    const cpuDir = join(root, CPU, `cpu${cpu}`);
    await mkdir(cpuDir, { recursive: true });
    await symlink(`../cpufreq/policy${index}`, join(cpuDir, 'cpufreq'));
  }
}

async function writeZone(dir: string, z: RaplZoneSpec, isPackage: boolean): Promise<void> {
  await mkdir(dir, { recursive: true });
  await attr(dir, 'name', z.name, 0o444);
  await attr(dir, 'energy_uj', z.energyUj, 0o400);
  await attr(dir, 'max_energy_range_uj', z.maxEnergyRangeUj, 0o444);
  await attr(dir, 'enabled', z.enabled === false ? 0 : 1, 0o644);
  await attr(dir, 'constraint_0_name', 'long_term', 0o444);
  await attr(dir, 'constraint_0_power_limit_uw', z.limitUw, 0o644);
  await attr(dir, 'constraint_0_time_window_us', z.timeWindowUs ?? 976, 0o644);
  if (isPackage) {
    await attr(dir, 'constraint_0_max_power_uw', z.maxPowerUw, 0o444);
    await attr(dir, 'constraint_1_name', 'short_term', 0o444);
    await attr(dir, 'constraint_1_power_limit_uw', Math.round(z.maxPowerUw * 1.2), 0o644);
    await attr(dir, 'constraint_1_time_window_us', 2440, 0o644);
    await attr(dir, 'constraint_1_max_power_uw', 0, 0o444);
  }
}

async function writeRapl(root: string, pkgs: readonly RaplPackageSpec[]): Promise<void> {
  const ct = join(root, POWERCAP);
  await mkdir(ct, { recursive: true });
  await attr(ct, 'enabled', 1, 0o644);
  const cls = join(root, 'sys/class/powercap');
  await mkdir(cls, { recursive: true });
  await symlink('../../devices/virtual/powercap/intel-rapl', join(cls, 'intel-rapl'));
  for (const [n, pkg] of pkgs.entries()) {
    const zone = `intel-rapl:${n}`;
    await writeZone(join(ct, zone), pkg, true);
    await symlink(`../../devices/virtual/powercap/intel-rapl/${zone}`, join(cls, zone));
    for (const [m, sub] of (pkg.subzones ?? []).entries()) {
      const subzone = `intel-rapl:${n}:${m}`;
      await writeZone(join(ct, zone, subzone), sub, false);
      await symlink(`../../devices/virtual/powercap/intel-rapl/${zone}/${subzone}`, join(cls, subzone));
    }
  }
}

/** Builds a fake sysfs under a fresh temporary directory, removed when the test ends. */
export async function makeFakeSysfs(t: Teardown | undefined, spec: FakeSysfsSpec): Promise<FakeSysfs> {
  const root = await tempDir(t, 'vmanage-sysfs-');
  await chmod(root, 0o755);
  if (spec.policies) {
    for (const [i, p] of spec.policies.entries()) await writePolicy(root, i, p);
    if (spec.policies.some((p) => p.driver === 'intel_pstate')) {
      await mkdir(join(root, CPU, 'intel_pstate'), { recursive: true });
      await attr(join(root, CPU, 'intel_pstate'), 'status', 'active', 0o644);
    }
  }
  if (spec.rapl) await writeRapl(root, spec.rapl);
  const path = (rel: string): string => join(root, rel);
  const set = async (rel: string, value: string | number): Promise<void> => {
    await mkdir(dirname(path(rel)), { recursive: true });
    await writeFile(path(rel), `${value}\n`); // the test runs as root: it may write 0444/0400 files
  };
  return {
    root,
    path,
    read: (rel) => readFile(path(rel), 'utf8'),
    set,
    setEnergy: (pkg, uj) => set(`sys/class/powercap/intel-rapl:${pkg}/energy_uj`, uj),
  };
}
