// A host's BMC from configuration: IPMI (FreeIPMI, or ipmitool when FreeIPMI is not installed)
// or Redfish. Returns the power sensor, the node power cap and, for IPMI, chassis control and the
// inputs the reliability collector needs. Daemons call createBmc() once at start; a config error
// names every bad field (zod) before anything talks to the BMC.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { z } from 'zod';
import type { Clock } from '../../domain/clock.js';
import { UnsupportedError } from '../../domain/errors.js';
import type { HostPowerControl, PowerLimitActuator, PowerSensor } from '../../domain/ports/power.js';
import { IpmiChassis } from './chassis-ipmi.js';
import { DcmiPowerLimit, dcmiPowerSensor, type IpmiTool } from './ipmi-dcmi.js';
import { execRunner, type ToolRunner } from './ipmi-exec.js';
import { ipmiSensorsPowerSensor } from './ipmi-sensors.js';
import { IpmiTargetSchema, type IpmiTarget } from './ipmi-target.js';
import { RedfishClient } from './redfish-client.js';
import { RedfishPowerLimit, redfishPowerSensor } from './redfish-power.js';

const timeoutMs = z.number().int().min(100).max(60_000).default(5000);

export const BmcConfigSchema = z.discriminatedUnion('protocol', [
  z.object({
    protocol: z.literal('ipmi'),
    target: IpmiTargetSchema,
    tool: z.enum(['auto', 'freeipmi', 'ipmitool']).default('auto'),
    /** Where the power reading comes from: DCMI, or a sensor in watts (BMCs without DCMI). */
    reading: z.enum(['dcmi', 'sensor']).default('dcmi'),
    sensorName: z.string().optional(),
    timeoutMs,
    sdrCacheDir: z.string().default('/var/cache/vmanage/ipmi-sdr'),
    /** The platform's node cap range, watts (refused by name outside it). */
    capMinWatts: z.number().int().positive().optional(),
    capMaxWatts: z.number().int().positive().optional(),
  }),
  z.object({
    protocol: z.literal('redfish'),
    baseUrl: z.url().refine((u) => /^https?:\/\//.test(u), 'must be http(s)').transform((u) => u.replace(/\/+$/, '')),
    username: z.string(),
    password: z.string(),
    chassisPath: z.string().startsWith('/redfish/v1/').default('/redfish/v1/Chassis/1'),
    /** Redfish sessions (X-Auth-Token) by default; basic authentication per request if 'basic'. */
    auth: z.enum(['session', 'basic']).default('session'),
    timeoutMs,
  }),
]);

export type BmcConfig = z.input<typeof BmcConfigSchema>;

export interface Bmc {
  readonly sensor: PowerSensor;
  readonly cap: PowerLimitActuator;
  /** IPMI only: chassis power control. */
  readonly chassis?: HostPowerControl;
  /** IPMI only: what HostReliabilityCollector needs for SEL and threshold states. */
  readonly ipmi?: { target: IpmiTarget; tool: IpmiTool; runner: ToolRunner; timeoutMs: number; sdrCacheDir: string };
}

function onPath(program: string, path: string): boolean {
  return path.split(delimiter).some((dir) => {
    if (!dir) return false;
    try {
      accessSync(join(dir, program), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** FreeIPMI when its tools are installed, else ipmitool; UNSUPPORTED when neither is. */
export function resolveIpmiTool(wanted: IpmiTool | 'auto', path = process.env.PATH ?? ''): IpmiTool {
  if (wanted !== 'auto') return wanted;
  if (onPath('ipmi-dcmi', path) && onPath('ipmi-raw', path)) return 'freeipmi';
  if (onPath('ipmitool', path)) return 'ipmitool';
  throw new UnsupportedError('ipmi', 'a BMC without FreeIPMI or ipmitool installed');
}

export function createBmc(config: BmcConfig, deps: { clock: Clock; runner?: ToolRunner; path?: string }): Bmc {
  const c = BmcConfigSchema.parse(config);
  if (c.protocol === 'redfish') {
    const client = new RedfishClient({ baseUrl: c.baseUrl, username: c.username, password: c.password, timeoutMs: c.timeoutMs, auth: c.auth });
    const o = { client, clock: deps.clock, chassisPath: c.chassisPath };
    return { sensor: redfishPowerSensor(o), cap: new RedfishPowerLimit(o) };
  }
  const runner = deps.runner ?? execRunner();
  const tool = resolveIpmiTool(c.tool, deps.path);
  const base = { target: c.target, runner, clock: deps.clock, timeoutMs: c.timeoutMs };
  const sensor = c.reading === 'sensor'
    ? ipmiSensorsPowerSensor({ ...base, tool, sdrCacheDir: c.sdrCacheDir, sensorName: c.sensorName })
    : dcmiPowerSensor({ ...base, tool });
  return {
    sensor,
    cap: new DcmiPowerLimit({ ...base, tool, minWatts: c.capMinWatts, maxWatts: c.capMaxWatts }),
    chassis: new IpmiChassis({ ...base, tool }),
    ipmi: { target: c.target, tool, runner, timeoutMs: c.timeoutMs, sdrCacheDir: c.sdrCacheDir },
  };
}
