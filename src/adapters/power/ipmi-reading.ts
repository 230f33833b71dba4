// Shared by the BMC power sensors (IPMI DCMI, IPMI sensors, Redfish): wraps one "measure now"
// function into the PowerSensor contract. A failed read throws POWER_SENSOR_UNAVAILABLE (or
// BMC_AUTH_FAILED, which an operator must fix), keeps the cause's code in details.reason, and
// never re-serves the previous value as fresh: last() returns it marked stale with its age.
import type { Clock } from '../../domain/clock.js';
import { ErrorCodes, VmanageError, isVmanageError } from '../../domain/errors.js';
import type { PowerReading, PowerSensor } from '../../domain/ports/power.js';

export interface SensorCounters { reads: number; failures: number }

export class MemoizedSensor implements PowerSensor {
  readonly counters: SensorCounters = { reads: 0, failures: 0 };
  private lastGood: { watts: number; timestamp: number } | undefined;

  constructor(
    readonly name: string,
    private readonly clock: Clock,
    private readonly measure: () => Promise<number>,
  ) {}

  async read(): Promise<PowerReading> {
    this.counters.reads++;
    let watts: number;
    try {
      watts = await this.measure();
    } catch (err) {
      this.counters.failures++;
      if (isVmanageError(err, ErrorCodes.BmcAuthFailed)) throw err;
      const reason = isVmanageError(err) ? err.code : 'UNKNOWN';
      const message = err instanceof Error ? err.message : String(err);
      throw new VmanageError(ErrorCodes.PowerSensorUnavailable, `${this.name}: ${message}`, { sensor: this.name, reason }, { cause: err });
    }
    const timestamp = this.clock.now();
    this.lastGood = { watts, timestamp };
    return { watts, timestamp, source: this.name, ageMs: 0, stale: false };
  }

  last(): PowerReading | undefined {
    if (!this.lastGood) return undefined;
    const ageMs = Math.max(0, this.clock.now() - this.lastGood.timestamp);
    return { ...this.lastGood, source: this.name, ageMs, stale: true };
  }
}
