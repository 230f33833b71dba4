// DCMI power reading and node power cap through the IPMI tools. FreeIPMI is the primary tool
// (ipmi-dcmi for readings and set/activate, ipmi-raw for Get Power Limit because ipmi-dcmi hides
// the "no active limit" completion code); ipmitool is the fallback for hosts without FreeIPMI.
// Units: watts, ms.
import type { Clock } from '../../domain/clock.js';
import { ErrorCodes, VmanageError, isVmanageError } from '../../domain/errors.js';
import type { PowerLimitActuator, PowerLimitState } from '../../domain/ports/power.js';
import { type ToolRunner } from './ipmi-exec.js';
import {
  decodeDcmiGetPowerLimit, parseFreeipmiPowerStatistics, parseIpmiRaw, parseIpmitoolPowerLimit,
  parseIpmitoolPowerReading,
} from './ipmi-parse.js';
import { MemoizedSensor } from './ipmi-reading.js';
import { runIpmi, targetName, type IpmiTarget } from './ipmi-target.js';

export type IpmiTool = 'freeipmi' | 'ipmitool';

export interface DcmiOptions {
  readonly target: IpmiTarget;
  readonly tool: IpmiTool;
  readonly runner: ToolRunner;
  readonly clock: Clock;
  /** Hard deadline per tool call, ms. */
  readonly timeoutMs: number;
  /** Readings above this are refused as garbage (BMC_PROTOCOL_ERROR), watts; default 20 000. */
  readonly maxPlausibleWatts?: number;
}

/** One DCMI power reading, watts. Throws when the BMC says power measurement is not active. */
export async function readDcmiPower(o: DcmiOptions): Promise<number> {
  const { stdout } = o.tool === 'freeipmi'
    ? await runIpmi(o.runner, o.target, o.timeoutMs, 'ipmi-dcmi', ['--get-system-power-statistics'])
    : await runIpmi(o.runner, o.target, o.timeoutMs, 'ipmitool', ['dcmi', 'power', 'reading']);
  const stats = o.tool === 'freeipmi' ? parseFreeipmiPowerStatistics(stdout) : parseIpmitoolPowerReading(stdout);
  if (!stats.active) {
    throw new VmanageError(ErrorCodes.PowerSensorUnavailable, 'BMC reports DCMI power measurement not active', { target: targetName(o.target) });
  }
  const max = o.maxPlausibleWatts ?? 20_000;
  if (stats.watts > max) {
    throw new VmanageError(ErrorCodes.BmcProtocolError, `BMC reports ${stats.watts} W, above the plausible ${max} W for one host`, { target: targetName(o.target), watts: stats.watts, max });
  }
  return stats.watts;
}

export function dcmiPowerSensor(o: DcmiOptions): MemoizedSensor {
  const prefix = o.tool === 'freeipmi' ? 'ipmi-dcmi' : 'ipmitool-dcmi';
  return new MemoizedSensor(`${prefix}:${targetName(o.target)}`, o.clock, () => readDcmiPower(o));
}

export interface DcmiCapOptions extends DcmiOptions {
  /** The platform's cap range, watts; requests outside are refused before the BMC sees them. */
  readonly minWatts?: number;
  readonly maxWatts?: number;
  /** DCMI correction time limit, ms: how long the BMC may exceed the cap before acting. */
  readonly correctionMs?: number;
  /** DCMI statistics sampling period, s. */
  readonly samplingSeconds?: number;
}

// FreeIPMI: "Power Limit out of range"; ipmitool: "Power/Thermal limit out of range (84)".
const CC_LIMIT_OUT_OF_RANGE = /limit out of range|\(84\)|0x84/i;

/** Node power cap through DCMI: set, activate, read back and verify. */
export class DcmiPowerLimit implements PowerLimitActuator {
  readonly name: string;
  constructor(private readonly o: DcmiCapOptions) {
    this.name = `dcmi:${targetName(o.target)}`;
  }

  async state(): Promise<PowerLimitState> {
    const { active, limitWatts } = await this.readLimit();
    return { source: this.name, limitWatts: active ? limitWatts : null, minWatts: this.o.minWatts, maxWatts: this.o.maxWatts };
  }

  async setLimit(watts: number): Promise<void> {
    const { minWatts = 1, maxWatts = 65_535 } = this.o;
    if (!Number.isInteger(watts) || watts < minWatts || watts > maxWatts) {
      throw new VmanageError(ErrorCodes.OutOfBounds, `power cap ${watts} W is outside the platform's range ${minWatts}..${maxWatts} W`, { watts, minWatts, maxWatts, limit: watts < minWatts ? 'minWatts' : 'maxWatts' });
    }
    try {
      await this.setAndActivate(watts);
    } catch (err) {
      if (isVmanageError(err, ErrorCodes.BmcProtocolError) && CC_LIMIT_OUT_OF_RANGE.test(`${err.message} ${String(err.details.stderr ?? '')}`)) {
        throw new VmanageError(ErrorCodes.PowerCapRejected, `BMC refused power cap ${watts} W: out of its range`, { watts, actuator: this.name }, { cause: err });
      }
      throw err;
    }
    const back = await this.readLimit();
    if (!back.active || back.limitWatts !== watts) {
      throw new VmanageError(ErrorCodes.PowerCapRejected, `power cap did not take: asked ${watts} W, BMC holds ${back.limitWatts} W (${back.active ? 'active' : 'not active'})`, { watts, readBack: back.limitWatts, active: back.active, actuator: this.name });
    }
  }

  async clearLimit(): Promise<void> {
    await this.activation(false);
    const back = await this.readLimit();
    if (back.active) throw new VmanageError(ErrorCodes.PowerCapRejected, 'BMC still reports an active power limit after deactivation', { actuator: this.name });
  }

  private run(cmd: string, args: string[]): Promise<{ stdout: string }> {
    return runIpmi(this.o.runner, this.o.target, this.o.timeoutMs, cmd, args);
  }

  private async setAndActivate(watts: number): Promise<void> {
    const corr = this.o.correctionMs ?? 1000;
    const samp = this.o.samplingSeconds ?? 1;
    if (this.o.tool === 'freeipmi') {
      await this.run('ipmi-dcmi', ['--set-power-limit', `--power-limit-requested=${watts}`, `--correction-time-limit=${corr}`, `--statistics-sampling-period=${samp}`, '--exception-actions=NO_ACTION']);
    } else {
      await this.run('ipmitool', ['dcmi', 'power', 'set_limit', 'limit', String(watts)]);
      await this.run('ipmitool', ['dcmi', 'power', 'set_limit', 'correction', String(corr)]);
      await this.run('ipmitool', ['dcmi', 'power', 'set_limit', 'sample', String(samp)]);
    }
    await this.activation(true);
  }

  private async activation(on: boolean): Promise<void> {
    if (this.o.tool === 'freeipmi') {
      await this.run('ipmi-dcmi', [`--activate-deactivate-power-limit=${on ? 'activate' : 'deactivate'}`]);
    } else {
      await this.run('ipmitool', ['dcmi', 'power', on ? 'activate' : 'deactivate']);
    }
  }

  private async readLimit(): Promise<{ active: boolean; limitWatts: number }> {
    if (this.o.tool === 'ipmitool') {
      return parseIpmitoolPowerLimit((await this.run('ipmitool', ['dcmi', 'power', 'get_limit'])).stdout);
    }
    // NetFn 0x2C (group extension), cmd 0x03, group 0xDC, two reserved bytes.
    const { stdout } = await this.run('ipmi-raw', ['0x0', '0x2c', '0x03', '0xdc', '0x00', '0x00']);
    return decodeDcmiGetPowerLimit(parseIpmiRaw(stdout));
  }
}
