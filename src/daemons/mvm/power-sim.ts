// The power plant of a simulated host (demo cluster): sensor and frequency cap in the simulated
// world (src/adapters/sim/power.ts), no powerd. The cap starts at startCapKHz when given. The
// host daemon's power model (config) is its own estimate; the world's SPECpower table is the truth.
import type { Clock } from '../../domain/clock.js';
import { parseSimUri, WorldClient } from '../../adapters/sim/world-client.js';
import { WorldFrequencyActuator, WorldPowerSensor } from '../../adapters/sim/power.js';
import type { PowerConfig } from './config.js';
import { linearDvfsModel, type PowerPlant } from './power.js';

export async function openSimWorldPlant(cfg: PowerConfig, actuator: { uri: string; timeoutMs: number }, clock: Clock): Promise<PowerPlant> {
  const { host, world } = parseSimUri(actuator.uri);
  const client = new WorldClient(world, host, clock, actuator.timeoutMs);
  try {
    const frequency = new WorldFrequencyActuator(client);
    const info = await frequency.info();
    if (cfg.startCapKHz !== undefined) await frequency.setMaxFrequency(cfg.startCapKHz);
    return {
      sensor: new WorldPowerSensor(client, clock), frequency, powerLimit: undefined, model: linearDvfsModel(cfg.model),
      minKHz: info.minKHz, maxKHz: info.maxKHz, capKHz: cfg.startCapKHz ?? info.capKHz, cpus: info.cpus, simUtilisation: undefined,
      close: () => client.close(),
    };
  } catch (err) {
    await client.close();
    throw err;
  }
}
