// IPMI sensors through FreeIPMI's ipmi-sensors: the host's power from a watts sensor (for BMCs
// without DCMI), and every sensor's threshold state (Nominal / Warning / Critical) for the host
// reliability score. The SDR cache lives in a 0700 directory the caller provides.
import { mkdir } from 'node:fs/promises';
import type { Clock } from '../../domain/clock.js';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import type { ToolRunner } from './ipmi-exec.js';
import { MemoizedSensor } from './ipmi-reading.js';
import type { IpmiTool } from './ipmi-dcmi.js';
import { parseIpmitoolSensorsCsv, parseSensorsCsv, type SensorRow } from './ipmi-sensors-parse.js';
import { runIpmi, targetName, type IpmiTarget } from './ipmi-target.js';

export interface IpmiSensorsOptions {
  readonly target: IpmiTarget;
  /** FreeIPMI ipmi-sensors (default) or ipmitool sensor (fallback; no SDR cache directory used). */
  readonly tool?: IpmiTool;
  readonly runner: ToolRunner;
  readonly clock: Clock;
  readonly timeoutMs: number;
  /** Directory for FreeIPMI's SDR cache (created 0700 if missing). */
  readonly sdrCacheDir: string;
}

/**
 * All sensors with their reading, and their state (Nominal / Warning / Critical) if withState.
 * The state costs FreeIPMI ~70 ms more per call (it loads its interpretation config), so the
 * power reading path leaves it out.
 */
export async function readIpmiSensors(o: Omit<IpmiSensorsOptions, 'clock'>, withState = true): Promise<SensorRow[]> {
  if (o.tool === 'ipmitool') return parseIpmitoolSensorsCsv((await runIpmi(o.runner, o.target, o.timeoutMs, 'ipmitool', ['-c', 'sensor'])).stdout);
  await mkdir(o.sdrCacheDir, { recursive: true, mode: 0o700 });
  const { stdout } = await runIpmi(o.runner, o.target, o.timeoutMs, 'ipmi-sensors', [
    `--sdr-cache-directory=${o.sdrCacheDir}`, '--quiet-cache',
    '--no-header-output', '--comma-separated-output', ...(withState ? ['--output-sensor-state'] : []), '--non-abbreviated-units',
  ]);
  return parseSensorsCsv(stdout, withState);
}

/** Picks the power sensor: by name if given, else the first sensor whose units are watts. */
export function pickPowerRow(rows: readonly SensorRow[], sensorName?: string): SensorRow {
  const row = rows.find((r) => (sensorName ? r.name === sensorName : r.units === 'Watts'));
  if (!row) {
    throw new VmanageError(ErrorCodes.NotFound, `no ${sensorName ? `sensor named "${sensorName}"` : 'sensor in watts'} on this BMC`, { sensorName, sensors: rows.map((r) => r.name).slice(0, 50) });
  }
  if (row.units !== 'Watts') throw new VmanageError(ErrorCodes.BmcProtocolError, `sensor "${row.name}" reads in ${row.units}, not watts`, { sensor: row.name, units: row.units });
  if (row.reading === null) throw new VmanageError(ErrorCodes.PowerSensorUnavailable, `sensor "${row.name}" has no reading`, { sensor: row.name });
  if (row.reading < 0 || row.reading > 100_000) throw new VmanageError(ErrorCodes.BmcProtocolError, `sensor "${row.name}" reads ${row.reading} W, outside 0..100000 W`, { sensor: row.name });
  return row;
}

export function ipmiSensorsPowerSensor(o: IpmiSensorsOptions & { sensorName?: string }): MemoizedSensor {
  return new MemoizedSensor(`${o.tool === 'ipmitool' ? 'ipmitool-sensor' : 'ipmi-sensors'}:${targetName(o.target)}`, o.clock, async () => pickPowerRow(await readIpmiSensors(o, false), o.sensorName).reading as number);
}
