// Builds powerd's actuators and sensor from its configuration: the host's cpufreq and RAPL
// through sysfs, or a simulated host (demo); plus BMC power-limit actuators registered as
// plug-in bundles {kind, schema, create} in one explicit table (no registration by import).
import { z } from 'zod';
import type { Logger } from 'pino';
import { systemClock } from '../../adapters/clock.js';
import { DcmiPowerLimit } from '../../adapters/power/ipmi-dcmi.js';
import { execRunner } from '../../adapters/power/ipmi-exec.js';
import { IpmiTargetSchema } from '../../adapters/power/ipmi-target.js';
import { RaplPowerLimit, RaplSensor } from '../../adapters/power/rapl.js';
import { newSysfsCounters } from '../../adapters/power/sysfs.js';
import { RedfishClient } from '../../adapters/power/redfish-client.js';
import { RedfishPowerLimit } from '../../adapters/power/redfish-power.js';
import { constantUtilisation, SimPower } from '../../adapters/power/sim.js';
import { ErrorCodes, VmanageError, isVmanageError } from '../../domain/errors.js';
import type { FrequencyActuator, PowerLimitActuator, PowerSensor } from '../../domain/ports/power.js';
import { specPowerModel } from '../../domain/power-model.js';
import { PowerdCpufreq } from './cap-cpufreq.js';
import type { PowerdConfig } from './config.js';
import type { PowerBackend } from './service.js';

interface LimitPlugin<S extends z.ZodType> {
  readonly kind: string;
  readonly schema: S;
  create(options: z.infer<S>): PowerLimitActuator;
}

const DcmiOptionsSchema = z.object({
  target: IpmiTargetSchema,
  tool: z.enum(['freeipmi', 'ipmitool']).default('freeipmi'),
  timeoutMs: z.number().int().min(100).max(60_000).default(5000),
  minWatts: z.number().int().positive().optional(),
  maxWatts: z.number().int().positive().optional(),
  correctionMs: z.number().int().positive().optional(),
  samplingSeconds: z.number().int().positive().optional(),
}).strict();

const dcmiPlugin: LimitPlugin<typeof DcmiOptionsSchema> = {
  kind: 'dcmi',
  schema: DcmiOptionsSchema,
  create: (o) => new DcmiPowerLimit({ ...o, runner: execRunner(), clock: systemClock }),
};

const RedfishOptionsSchema = z.object({
  /** e.g. "https://bmc.example:443" (no trailing slash). */
  baseUrl: z.string().regex(/^https?:\/\/[^/\s]+$/, 'expected http(s)://host[:port] without a path'),
  username: z.string().min(1).max(64),
  password: z.string().max(128),
  timeoutMs: z.number().int().min(100).max(60_000).default(5000),
  chassisPath: z.string().regex(/^\/redfish\/v1\/Chassis\/[^/\s]+$/, 'expected /redfish/v1/Chassis/<id>').default('/redfish/v1/Chassis/1'),
}).strict();

const redfishPlugin: LimitPlugin<typeof RedfishOptionsSchema> = {
  kind: 'redfish',
  schema: RedfishOptionsSchema,
  create: ({ chassisPath, ...endpoint }) => new RedfishPowerLimit({ client: new RedfishClient(endpoint), clock: systemClock, chassisPath }),
};

/** The BMC limit plug-ins this build has, by the source name callers use in SetPowerLimit. */
export const LIMIT_PLUGINS: ReadonlyMap<string, LimitPlugin<z.ZodType>> = new Map<string, LimitPlugin<z.ZodType>>([
  ['dcmi', dcmiPlugin as LimitPlugin<z.ZodType>],
  ['redfish', redfishPlugin as LimitPlugin<z.ZodType>],
]);

function pluginLimits(config: PowerdConfig): Map<string, PowerLimitActuator> {
  const limits = new Map<string, PowerLimitActuator>();
  const problems: string[] = [];
  config.powerLimits.forEach((entry, i) => {
    const plugin = LIMIT_PLUGINS.get(entry.kind);
    if (!plugin) {
      problems.push(`powerLimits.${i}.kind: ${entry.kind} is not available in this build (available: ${[...LIMIT_PLUGINS.keys()].join(', ')})`);
      return;
    }
    const parsed = plugin.schema.safeParse(entry.options);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) problems.push(`powerLimits.${i}.options${issue.path.length ? `.${issue.path.join('.')}` : ''}: ${issue.message}`);
      return;
    }
    limits.set(entry.kind, plugin.create(parsed.data));
  });
  if (problems.length) throw new VmanageError(ErrorCodes.ConfigInvalid, `invalid power limit plug-ins\n${problems.join('\n')}`, { problems });
  return limits;
}

function simBackend(config: PowerdConfig): PowerBackend {
  const s = config.sim;
  const sim = new SimPower({
    model: specPowerModel(s.model, {}), clock: systemClock, utilisation: constantUtilisation(s.utilisation),
    cpus: s.cpus, minKHz: s.minKHz, maxKHz: s.maxKHz, epp: ['default', 'performance', 'balance_performance', 'balance_power', 'power'],
  });
  const limits = new Map<string, PowerLimitActuator>([['sim', sim.limit], ...pluginLimits(config)]);
  return { frequency: config.frequency.enabled ? sim.frequency : undefined, limits, sensor: sim.sensor };
}

/** Probes the host: a missing cpufreq or RAPL is logged and left out, not fatal. */
async function sysfsBackend(config: PowerdConfig, log: Logger): Promise<PowerBackend> {
  const root = config.sysfsRoot;
  const counters = newSysfsCounters(); // shared by every sysfs adapter of this daemon
  let frequency: FrequencyActuator | undefined;
  if (config.frequency.enabled) {
    const cpufreq = new PowerdCpufreq({ root, counters });
    try {
      await cpufreq.state();
      frequency = cpufreq;
    } catch (err) {
      if (!isVmanageError(err)) throw err;
      log.warn({ code: err.code, reason: err.message }, 'no usable cpufreq: frequency caps disabled');
    }
  }
  const limits = new Map<string, PowerLimitActuator>();
  let sensor: PowerSensor | undefined;
  if (config.rapl.enabled) {
    const rapl = new RaplPowerLimit({ root, minWattsPerPackage: config.rapl.minWattsPerPackage, counters });
    try {
      await rapl.state();
      limits.set('rapl', rapl);
      sensor = new RaplSensor({ root, clock: systemClock, sampleMs: config.rapl.sampleMs, counters });
    } catch (err) {
      if (!isVmanageError(err)) throw err;
      log.warn({ code: err.code, reason: err.message }, 'no usable RAPL: RAPL limits and readings disabled');
    }
  }
  for (const [k, v] of pluginLimits(config)) limits.set(k, v);
  const sysfs = counters as unknown as Record<string, number>;
  return { frequency, limits, sensor, counters: sysfs };
}

export async function createBackend(config: PowerdConfig, log: Logger): Promise<PowerBackend> {
  return config.backend === 'sim' ? simBackend(config) : await sysfsBackend(config, log);
}
