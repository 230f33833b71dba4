// The simulated host's power sensor and frequency actuator, read from and written to the
// simulated world (the power the world's SPECpower model gives at the host's load and cap), over
// the same world client as the hypervisor or one of their own. Same ports as RAPL / cpufreq /
// powerd, so the host daemon's policies cannot tell. Units: W, kHz.
import type { Clock } from '../../domain/clock.js';
import { ErrorCodes, isVmanageError, VmanageError } from '../../domain/errors.js';
import type { CpuFrequencyState, FrequencyActuator, PowerReading, PowerSensor } from '../../domain/ports/power.js';
import type { WorldHostInfo, WorldPower } from '../../protocol/sim.js';
import { checkFrequencyCap } from '../power/cpufreq-limits.js';
import type { WorldClient } from './world-client.js';

export class WorldPowerSensor implements PowerSensor {
  readonly name: string;
  readonly counters = { reads: 0, errors: 0 };
  private lastGood: PowerReading | undefined;

  constructor(private readonly client: WorldClient, private readonly clock: Clock) {
    this.name = `sim-world:${client.host}`;
  }

  async read(): Promise<PowerReading> {
    let p: WorldPower;
    try {
      p = await this.client.request<WorldPower>('world.power');
    } catch (err) {
      this.counters.errors++;
      throw new VmanageError(ErrorCodes.PowerSensorUnavailable, `${this.name}: ${isVmanageError(err) ? err.message : String(err)}`, { source: this.name }, { cause: err });
    }
    this.counters.reads++;
    const r: PowerReading = { watts: p.watts, timestamp: this.clock.now(), source: this.name, ageMs: 0, stale: false };
    this.lastGood = r;
    return r;
  }

  last(): PowerReading | undefined {
    const r = this.lastGood;
    return r && { ...r, stale: true, ageMs: Math.max(0, this.clock.now() - r.timestamp) };
  }
}

/** The host's cap in the world (one cpufreq-like policy over all its CPUs). */
export class WorldFrequencyActuator implements FrequencyActuator {
  constructor(private readonly client: WorldClient) {}

  async info(): Promise<WorldHostInfo> {
    return await this.client.request<WorldHostInfo>('world.host');
  }

  async state(): Promise<CpuFrequencyState[]> {
    const h = await this.info();
    return [{
      policy: 'policy0', cpus: Array.from({ length: h.cpus }, (_, i) => i), curKHz: h.curKHz,
      scalingMinKHz: h.minKHz, scalingMaxKHz: h.capKHz, governor: 'performance',
      limits: { minKHz: h.minKHz, maxKHz: h.maxKHz, governors: ['performance'] },
    }];
  }

  async setMaxFrequency(kHz: number): Promise<void> {
    checkFrequencyCap(kHz, await this.state());
    await this.client.request('world.cap', { kHz });
  }

  async clearMaxFrequency(): Promise<void> {
    await this.client.request('world.cap');
  }
}
