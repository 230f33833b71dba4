// The power service behind org.vmanage.Power1, free of D-Bus: it validates requests against what
// the hardware reports, performs them through the actuators one at a time (no interleaved sysfs
// writes), and emits a 'change' event {what, caller, old, new} after every change that took.
// Units: kHz, watts. Validation failures are VmanageErrors naming the limit.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { ErrorCodes, UnsupportedError, VmanageError } from '../../domain/errors.js';
import type { FrequencyActuator, PowerLimitActuator, PowerReading, PowerSensor } from '../../domain/ports/power.js';
import type { PowerdState } from '../../adapters/power/powerd-client-protocol.js';
import { hopTracer } from '../../adapters/power/hop-trace.js';
import type { Caller } from './auth.js';

export interface PowerBackend {
  readonly frequency?: FrequencyActuator;
  readonly limits: ReadonlyMap<string, PowerLimitActuator>;
  readonly sensor?: PowerSensor;
  /** Counters of the backend's adapters (e.g. sysfs reads, writes, malformed values, I/O errors). */
  readonly counters?: Readonly<Record<string, number>>;
}

export interface Change {
  /** "frequency-cap", "governor", "epp" or "power-limit:<source>". */
  readonly what: string;
  readonly caller: Caller;
  /** Previous and new value as text; "" means none (no cap, no limit). */
  readonly old: string;
  readonly new: string;
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

function checkName(what: string, value: string): void {
  if (!NAME.test(value)) {
    throw new VmanageError(ErrorCodes.InvalidInput, `${what}: expected 1-64 letters, digits, "_" or "-", got ${JSON.stringify(value.slice(0, 80))}`, { what });
  }
}

export class PowerService extends EventEmitter<{ change: [Change] }> {
  /** The frequency cap in force (kHz), null when scaling_max_freq is at cpuinfo_max_freq. */
  capKHz: number | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private pending = 0;
  private readingError: string | null = null;

  /** maxPending bounds the queue of waiting requests: beyond it callers get UNAVAILABLE (busy). */
  constructor(readonly backend: PowerBackend, private readonly log: Logger, private readonly maxPending = 64) {
    super();
  }

  /** Learns the cap already in force (set before a restart). */
  async init(): Promise<void> {
    const f = this.backend.frequency;
    if (!f) return;
    const policies = await f.state();
    const capped = policies.filter((p) => p.scalingMaxKHz < p.limits.maxKHz);
    this.capKHz = capped.length ? Math.min(...capped.map((p) => p.scalingMaxKHz)) : null;
  }

  /** Serialised with the mutations, so a state never shows a half-applied change. */
  state(): Promise<PowerdState> {
    return this.serial(() => this.readState());
  }

  private async readState(): Promise<PowerdState> {
    const f = this.backend.frequency;
    const powerLimits = await Promise.all([...this.backend.limits.values()].map((l) => l.state()));
    return {
      frequency: f ? { capKHz: this.capKHz, policies: await f.state() } : null,
      powerLimits,
      reading: this.backend.sensor?.last() ?? null,
      readingError: this.readingError,
    };
  }

  /** A fresh reading from the configured sensor. */
  async readPower(): Promise<PowerReading> {
    const sensor = this.backend.sensor;
    if (!sensor) throw new UnsupportedError('vmanage-powerd', 'power readings (no sensor configured)');
    try {
      const r = await sensor.read();
      this.readingError = null;
      return r;
    } catch (err) {
      this.readingError = (err as Error).message;
      throw err;
    }
  }

  /** The actuator validates against the hardware limits (cpufreq-limits.ts) before writing. */
  setFrequencyCap(caller: Caller, kHz: number): Promise<void> {
    return this.serial(async () => {
      const f = this.frequency();
      const old = this.capKHz;
      await f.setMaxFrequency(kHz);
      hopTracer().mark('powerd.sysfs-done');
      this.capKHz = kHz;
      this.changed('frequency-cap', caller, old, kHz);
    });
  }

  clearFrequencyCap(caller: Caller): Promise<void> {
    return this.serial(async () => {
      const old = this.capKHz;
      await this.frequency().clearMaxFrequency();
      this.capKHz = null;
      this.changed('frequency-cap', caller, old, null);
    });
  }

  async setGovernor(caller: Caller, governor: string): Promise<void> {
    checkName('governor', governor);
    return await this.serial(async () => {
      const f = this.frequency();
      if (!f.setGovernor) throw new UnsupportedError('frequency actuator', 'governors');
      const old = (await f.state())[0]?.governor ?? null;
      await f.setGovernor(governor);
      this.changed('governor', caller, old, governor);
    });
  }

  async setEpp(caller: Caller, epp: string): Promise<void> {
    checkName('EPP', epp);
    return await this.serial(async () => {
      const f = this.frequency();
      if (!f.setEpp) throw new UnsupportedError('frequency actuator', 'energy_performance_preference');
      const old = (await f.state())[0]?.epp ?? null;
      await f.setEpp(epp);
      this.changed('epp', caller, old, epp);
    });
  }

  async setPowerLimit(caller: Caller, source: string, watts: number): Promise<void> {
    checkName('power limit source', source);
    return await this.serial(async () => {
      const limit = this.limit(source);
      const before = await limit.state();
      if (before.maxWatts !== undefined && watts > before.maxWatts) {
        throw new VmanageError(ErrorCodes.OutOfBounds, `${watts} W is above maxWatts (${before.maxWatts} W) of ${source}`, { limit: 'maxWatts', limitValue: before.maxWatts, value: watts });
      }
      if (before.minWatts !== undefined && watts < before.minWatts) {
        throw new VmanageError(ErrorCodes.OutOfBounds, `${watts} W is below minWatts (${before.minWatts} W) of ${source}`, { limit: 'minWatts', limitValue: before.minWatts, value: watts });
      }
      await limit.setLimit(watts);
      this.changed(`power-limit:${source}`, caller, before.limitWatts, watts);
    });
  }

  async clearPowerLimit(caller: Caller, source: string): Promise<void> {
    checkName('power limit source', source);
    return await this.serial(async () => {
      const limit = this.limit(source);
      const before = await limit.state();
      await limit.clearLimit();
      this.changed(`power-limit:${source}`, caller, before.limitWatts, null);
    });
  }

  private frequency(): FrequencyActuator {
    const f = this.backend.frequency;
    if (!f) throw new UnsupportedError('vmanage-powerd', 'frequency caps (no cpufreq actuator configured)');
    return f;
  }

  private limit(source: string): PowerLimitActuator {
    const l = this.backend.limits.get(source);
    if (!l) {
      const known = [...this.backend.limits.keys()].join(', ') || 'none';
      throw new VmanageError(ErrorCodes.NotFound, `power limit source ${JSON.stringify(source)} is not configured (configured: ${known})`, { source });
    }
    return l;
  }

  private changed(what: string, caller: Caller, old: number | string | null, now: number | string | null): void {
    const change = { what, caller, old: old === null ? '' : String(old), new: now === null ? '' : String(now) };
    this.log.info({ what, uid: caller.uid, sender: caller.sender, old: change.old, new: change.new }, 'power setting changed');
    this.emit('change', change);
  }

  /** Runs mutations one after another; a failed one does not block the next. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    if (this.pending >= this.maxPending) {
      return Promise.reject(new VmanageError(ErrorCodes.Unavailable, `busy: ${this.pending} requests already waiting`, { pending: this.pending }));
    }
    this.pending++;
    const run = this.queue.then(fn, fn).finally(() => { this.pending--; });
    this.queue = run.catch(() => undefined);
    return run;
  }
}
