// A ControlLoop on a simulated power plant (sim sensor and actuator, 100-200 W model, 4 CPUs, a
// 400 W budget) over the given hypervisor, started, stopped at teardown: for tests of how the
// loop reads the VMs. No powerd and no daemon process.
import { pino } from 'pino';
import { constantUtilisation, SimPower } from '../../src/adapters/power/sim.js';
import { systemClock } from '../../src/adapters/clock.js';
import type { Hypervisor } from '../../src/domain/ports/hypervisor.js';
import { parseMvmConfig } from '../../src/daemons/mvm/config.js';
import { ControlLoop } from '../../src/daemons/mvm/control-loop.js';
import { linearDvfsModel, type PowerPlant } from '../../src/daemons/mvm/power.js';
import type { Teardown } from '../support/proc.js';

/** `simUtilisation` stands in for VMs without CPU accounting (as with the daemon's sim sensor). */
export async function startSimLoop(t: Teardown, hypervisor: Hypervisor, o: { readIntervalMs: number; simUtilisation?: number }): Promise<ControlLoop> {
  const log = pino({ level: 'silent' });
  const cfg = parseMvmConfig({
    host: 'h1', hypervisor: { uri: 'test:///default' },
    power: { sensor: { kind: 'sim' }, actuator: { kind: 'powerd' }, model: { idleWatts: 100, peakWatts: 200 }, budget: { watts: 400, safeWatts: 400 }, readIntervalMs: o.readIntervalMs },
  }).power;
  if (!cfg) throw new Error('no power section parsed');
  const model = linearDvfsModel(cfg.model);
  const sim = new SimPower({ model, clock: systemClock, utilisation: constantUtilisation(0.5), minKHz: 800_000, maxKHz: 3_000_000 });
  const plant: PowerPlant = {
    sensor: sim.sensor, frequency: sim.frequency, powerLimit: undefined, model, minKHz: 800_000, maxKHz: 3_000_000,
    capKHz: 3_000_000, cpus: 4, simUtilisation: o.simUtilisation, close: async () => undefined,
  };
  const loop = new ControlLoop({ host: 'h1', cfg, plant, hypervisor, clock: systemClock, log });
  t.teardown(() => loop.stop());
  await loop.start();
  return loop;
}
