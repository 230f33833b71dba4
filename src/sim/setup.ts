// The reference set-up of CloudSim's PlanetLab examples (../shared/data/planetlab/README.md):
// 800 hosts alternating HP ProLiant ML110 G4 / G5, 4 VM types in contiguous blocks, 300 s
// interval, live migration time = RAM / (bandwidth / 2). Units: MIPS, MB, kbit/s, W, s.
import { specPowerModel, type SpecPowerTableId } from '../domain/power-model.js';
import type { PowerModel } from '../domain/ports/power.js';

export interface HostSpec {
  readonly model: SpecPowerTableId;
  readonly pes: number;
  /** Capacity of one core, MIPS. */
  readonly peMips: number;
  readonly ramMb: number;
  /** Network bandwidth, kbit/s (1 Gbit/s = 1,000,000). */
  readonly bwKbps: number;
  readonly power: PowerModel;
}

export interface VmSpec {
  readonly mips: number;
  readonly ramMb: number;
  readonly bwKbps: number;
}

/** DVFS-aware SPECpower models (identical to the tables at full frequency). */
export const HOST_TYPES: readonly HostSpec[] = [
  { model: 'hp-proliant-ml110-g4', pes: 2, peMips: 1860, ramMb: 4096, bwKbps: 1_000_000, power: specPowerModel('hp-proliant-ml110-g4', {}) },
  { model: 'hp-proliant-ml110-g5', pes: 2, peMips: 2660, ramMb: 4096, bwKbps: 1_000_000, power: specPowerModel('hp-proliant-ml110-g5', {}) },
];

export const VM_TYPES: readonly VmSpec[] = [
  { mips: 2500, ramMb: 870, bwKbps: 100_000 },
  { mips: 2000, ramMb: 1740, bwKbps: 100_000 },
  { mips: 1000, ramMb: 1740, bwKbps: 100_000 },
  { mips: 500, ramMb: 613, bwKbps: 100_000 },
];

export interface SimSetup {
  readonly hosts: readonly HostSpec[];
  readonly vms: readonly VmSpec[];
  /** Seconds between two trace samples (and policy runs). */
  readonly intervalS: number;
  /** Share of a migrating VM's CPU lost at the source while it migrates (0.1 = 10 %). */
  readonly migrationCpuLoss: number;
  /**
   * Whether RAM and bandwidth limit where a running VM may go. CloudSim's PlanetLab examples
   * give the VMs' tasks no RAM or bandwidth use, so after creation only CPU constrains
   * migrations (RAM and bandwidth are checked when the VMs are created); false reproduces that.
   */
  readonly memoryLimitsMigration: boolean;
  /**
   * CloudSim removes a VM for good the first time its demand is exactly 0 at an update (it takes
   * the VM's task for finished). Its PlanetLab results depend on it; true reproduces that.
   */
  readonly removeIdleVms: boolean;
}

/** Host i has type i % 2; VM i has type floor(i / ceil(n / 4)). */
export function referenceSetup(vmCount: number, hostCount = 800, intervalS = 300): SimSetup {
  const block = Math.ceil(vmCount / VM_TYPES.length);
  return {
    hosts: Array.from({ length: hostCount }, (_, i) => HOST_TYPES[i % 2] as HostSpec),
    vms: Array.from({ length: vmCount }, (_, i) => VM_TYPES[Math.floor(i / block)] as VmSpec),
    intervalS,
    migrationCpuLoss: 0.1,
    memoryLimitsMigration: false,
    removeIdleVms: true,
  };
}

/** Live migration time, s: RAM over half the link (the other half carries the VMs' own traffic). */
export function migrationSeconds(vm: VmSpec, host: HostSpec): number {
  return vm.ramMb / (host.bwKbps / (2 * 8000));
}

export function hostTotalMips(h: HostSpec): number {
  return h.pes * h.peMips;
}
