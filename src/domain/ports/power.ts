// Ports for platform power: sensors that read watts, actuators that cap power or CPU frequency,
// and host power control. Adapters (IPMI, Redfish, RAPL, cpufreq, powerd client, simulated)
// implement these; policies see only these types and VmanageError codes.
// Units: watts (W), kilohertz (kHz, as cpufreq uses), milliseconds (ms).

export interface PowerReading {
  /** Instantaneous (or averaged over the adapter's window) host power, watts. */
  readonly watts: number;
  /** When the value was measured (ms since epoch), by the local clock. */
  readonly timestamp: number;
  /** Which adapter and which instance, e.g. "ipmi-dcmi:127.0.0.1:9001", "rapl:package-0". */
  readonly source: string;
  /** Age of the reading when returned, ms (0 for a fresh reading). */
  readonly ageMs: number;
  /** True when this is the last good reading re-served after the sensor stopped answering. */
  readonly stale: boolean;
}

export interface PowerSensor {
  readonly name: string;
  /**
   * Reads power now. Throws VmanageError POWER_SENSOR_UNAVAILABLE (sensor does not answer or
   * answers garbage, within its timeout) or BMC_AUTH_FAILED; never returns an old value as fresh.
   */
  read(): Promise<PowerReading>;
  /** The last good reading, marked stale with its age, or undefined if there never was one. */
  last(): PowerReading | undefined;
  close?(): Promise<void>;
}

/** Limits an actuator reports from the hardware, so requests outside them can be refused by name. */
export interface FrequencyLimits {
  readonly minKHz: number;
  readonly maxKHz: number;
  readonly availableKHz?: readonly number[];
  readonly governors: readonly string[];
  readonly epp?: readonly string[];
}

export interface CpuFrequencyState {
  readonly policy: string;           // e.g. "policy0"
  readonly cpus: readonly number[];
  readonly curKHz: number;
  readonly scalingMinKHz: number;
  readonly scalingMaxKHz: number;
  readonly governor: string;
  readonly epp?: string;
  readonly limits: FrequencyLimits;
}

export interface PowerLimitState {
  readonly source: string;           // "rapl:package-0", "dcmi", "redfish:Chassis/1"
  readonly limitWatts: number | null; // null: no limit active
  readonly minWatts?: number;
  readonly maxWatts?: number;
}

/** Caps CPU frequency for all policies of the host (the paper's DVFS knob). */
export interface FrequencyActuator {
  state(): Promise<CpuFrequencyState[]>;
  /** Sets scaling_max_freq on every policy (clamped per policy only if clamp is true; else refused). */
  setMaxFrequency(kHz: number): Promise<void>;
  clearMaxFrequency(): Promise<void>;
  setGovernor?(governor: string): Promise<void>;
  setEpp?(epp: string): Promise<void>;
}

/** A power limit enforced by hardware or firmware: RAPL, DCMI, Redfish. */
export interface PowerLimitActuator {
  readonly name: string;
  state(): Promise<PowerLimitState>;
  /** Sets and activates the limit, then reads it back; throws POWER_CAP_REJECTED if it did not take. */
  setLimit(watts: number): Promise<void>;
  clearLimit(): Promise<void>;
}

export type ChassisPowerState = 'on' | 'off' | 'unknown';

export interface HostPowerControl {
  status(): Promise<ChassisPowerState>;
  powerOn(): Promise<void>;
  powerOff(): Promise<void>;
}

/** A power model: watts drawn at a CPU utilisation (0..1), optionally at a frequency ratio (0..1]. */
export interface PowerModel {
  readonly idleWatts: number;
  readonly peakWatts: number;
  watts(utilisation: number, frequencyRatio?: number): number;
}
