// The host's power plant as the MVM sees it: vmanage-powerd (frequency cap, optional power-limit
// backstop), a sensor (powerd's, RAPL read here, the BMC over IPMI/Redfish) or a simulated sensor whose modelled watts follow the cap powerd applies
// (a host without a meter: demos, tests, the benchmark). Units: W, kHz, ms.
import dbus from 'dbus-next';
import type { MessageBus } from 'dbus-next';
import type { Logger } from 'pino';
import { PowerdClient } from '../../adapters/power/powerd-client.js';
import { disconnectBus } from '../../adapters/power/powerd-client-protocol.js';
import { traceBus } from '../../adapters/power/hop-trace.js';
import { createBmc } from '../../adapters/power/ipmi-bmc.js';
import { RaplSensor } from '../../adapters/power/rapl.js';
import { constantUtilisation, SimPower } from '../../adapters/power/sim.js';
import type { Clock } from '../../domain/clock.js';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import { dvfsModel } from '../../domain/power-model.js';
import type { FrequencyActuator, PowerLimitActuator, PowerModel, PowerSensor } from '../../domain/ports/power.js';
import type { PowerConfig } from './config.js';
import { openSimWorldPlant } from './power-sim.js';

export interface PowerPlant {
  readonly sensor: PowerSensor;
  readonly frequency: FrequencyActuator;
  readonly powerLimit: PowerLimitActuator | undefined;
  readonly model: PowerModel;
  readonly minKHz: number;
  readonly maxKHz: number;
  /** Cap in force at startup, kHz. */
  readonly capKHz: number;
  readonly cpus: number;
  /** Host utilisation the simulated sensor models (undefined for a real sensor), 0..1. */
  readonly simUtilisation: number | undefined;
  close(): Promise<void>;
}

/** idle + (peak - idle) * u at full clock, scaled by DVFS with a voltage floor. */
export function linearDvfsModel(m: PowerConfig['model']): PowerModel {
  const base: PowerModel = {
    idleWatts: m.idleWatts, peakWatts: m.peakWatts,
    watts: (u) => m.idleWatts + (m.peakWatts - m.idleWatts) * Math.min(1, Math.max(0, u)),
  };
  return dvfsModel(base, { vFloor: m.vFloor });
}

export async function openPowerPlant(cfg: PowerConfig, clock: Clock, log: Logger): Promise<PowerPlant> {
  if (cfg.actuator.kind === 'sim-world') return await openSimWorldPlant(cfg, cfg.actuator, clock);
  let bus: MessageBus | undefined;
  if (cfg.actuator.busAddress) {
    bus = dbus.sessionBus({ busAddress: cfg.actuator.busAddress });
    bus.on('error', (err: Error) => log.warn({ err: err.message }, 'powerd bus error'));
    traceBus(bus, 'mvm');
  }
  let powerd: PowerdClient;
  try {
    powerd = await PowerdClient.connect({ ...(bus ? { bus } : {}), timeoutMs: cfg.actuator.timeoutMs });
  } catch (err) {
    if (bus) await disconnectBus(bus);
    throw err;
  }
  const close = async (): Promise<void> => {
    await powerd.close();
    if (bus) await disconnectBus(bus);
  };
  try {
    const policies = await powerd.state();
    const first = policies[0];
    if (!first) throw new VmanageError(ErrorCodes.Unsupported, 'powerd reports no cpufreq policy', { adapter: 'powerd' });
    const { minKHz, maxKHz } = first.limits;
    const cpus = policies.reduce((n, p) => n + p.cpus.length, 0);
    const model = linearDvfsModel(cfg.model);
    let capKHz = Math.min(...policies.map((p) => p.scalingMaxKHz));
    if (cfg.startCapKHz !== undefined) {
      await powerd.setMaxFrequency(cfg.startCapKHz);
      capKHz = cfg.startCapKHz;
    }
    const powerLimit = cfg.actuator.limitSource ? powerd.powerLimit(cfg.actuator.limitSource) : undefined;
    const measured = (sensor: PowerSensor): PowerPlant => ({
      sensor, frequency: powerd, powerLimit, model, minKHz, maxKHz, capKHz, cpus, simUtilisation: undefined,
      close: async () => { await sensor.close?.(); await close(); },
    });
    if (cfg.sensor.kind === 'powerd') return measured(powerd.sensor);
    if (cfg.sensor.kind === 'rapl') return measured(new RaplSensor({ clock, ...(cfg.sensor.root ? { root: cfg.sensor.root } : {}) }));
    if (cfg.sensor.kind === 'bmc') return measured(createBmc(cfg.sensor.bmc, { clock }).sensor);
    if (cfg.sensor.kind === 'sim-world') throw new VmanageError(ErrorCodes.ConfigInvalid, 'power.sensor sim-world needs power.actuator sim-world', {});
    const sim = new SimPower({ model, clock, utilisation: constantUtilisation(cfg.sensor.utilisation), minKHz, maxKHz, name: 'sim' });
    sim.capKHz = capKHz;
    // The simulated host runs at whatever cap powerd accepted.
    const frequency: FrequencyActuator = {
      state: () => powerd.state(),
      setMaxFrequency: async (kHz) => { await powerd.setMaxFrequency(kHz); sim.capKHz = kHz; },
      clearMaxFrequency: async () => { await powerd.clearMaxFrequency(); sim.capKHz = maxKHz; },
    };
    return { sensor: sim.sensor, frequency, powerLimit, model, minKHz, maxKHz, capKHz, cpus, simUtilisation: cfg.sensor.utilisation, close };
  } catch (err) {
    await close();
    throw err;
  }
}
