// Client of vmanage-powerd (org.vmanage.Power1 on the system bus): FrequencyActuator,
// PowerLimitActuator (one per source) and PowerSensor over D-Bus, with D-Bus errors translated
// into VmanageError codes here (OutOfBounds -> OUT_OF_BOUNDS, AccessDenied -> PERMISSION_DENIED,
// service absent -> UNAVAILABLE, no answer within timeoutMs -> TIMEOUT). Units: kHz, watts, ms.
import dbus from 'dbus-next';
import type { ClientInterface, MessageBus } from 'dbus-next';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import type {
  CpuFrequencyState, FrequencyActuator, PowerLimitActuator, PowerLimitState, PowerReading, PowerSensor,
} from '../../domain/ports/power.js';
import { hopTracer } from './hop-trace.js';
import { codeForDbusError, disconnectBus, parsePowerdState, POWER1_IFACE, POWER1_NAME, POWER1_PATH, type PowerdState } from './powerd-client-protocol.js';

export interface PowerdClientOptions {
  /** A connected bus; default: the system bus (DBUS_SYSTEM_BUS_ADDRESS honoured). */
  readonly bus?: MessageBus;
  /** Per-call deadline, ms. Default 5000. */
  readonly timeoutMs?: number;
}

export interface CapChange {
  readonly what: string;
  readonly uid: number;
  readonly sender: string;
  readonly old: string;
  readonly new: string;
}

function toVmanageError(method: string, err: unknown): VmanageError {
  if (err instanceof VmanageError) return err;
  if (err instanceof dbus.DBusError) {
    return new VmanageError(codeForDbusError(err.type), `powerd ${method}: ${err.text}`, { method, dbusError: err.type }, { cause: err });
  }
  return new VmanageError(ErrorCodes.Unavailable, `powerd ${method}: ${(err as Error)?.message ?? String(err)}`, { method }, { cause: err });
}

export class PowerdClient implements FrequencyActuator {
  private lastReading?: PowerReading;
  /** Set when our own bus failed: every call then fails fast; connect() again for a new client. */
  private busError?: Error;
  readonly sensor: PowerSensor;

  private constructor(private readonly bus: MessageBus, private readonly iface: ClientInterface, private readonly ownsBus: boolean, private readonly timeoutMs: number) {
    this.sensor = {
      name: 'powerd',
      read: () => this.readPower(),
      last: () => this.lastReading && { ...this.lastReading, stale: true, ageMs: Math.max(0, Date.now() - this.lastReading.timestamp) },
    };
  }

  static async connect(options: PowerdClientOptions = {}): Promise<PowerdClient> {
    const bus = options.bus ?? dbus.systemBus();
    const timeoutMs = options.timeoutMs ?? 5000;
    let client: PowerdClient | undefined;
    let early: Error | undefined;
    // An 'error' on a bus without a listener would throw out of the event loop.
    if (!options.bus) bus.on('error', (err: Error) => { if (client) client.busError = err; else early = err; });
    try {
      const obj = await withTimeout('connect', timeoutMs, bus.getProxyObject(POWER1_NAME, POWER1_PATH));
      if (early) throw early;
      client = new PowerdClient(bus, obj.getInterface(POWER1_IFACE), !options.bus, timeoutMs);
      return client;
    } catch (err) {
      if (!options.bus) await disconnectBus(bus);
      throw toVmanageError('connect', err);
    }
  }

  async close(): Promise<void> {
    if (this.ownsBus) await disconnectBus(this.bus);
  }

  /** Calls for every CapChanged signal; returns the function that stops listening. */
  onCapChanged(fn: (c: CapChange) => void): () => void {
    const h = (what: string, uid: number, sender: string, old: string, now: string): void => fn({ what, uid, sender, old, new: now });
    this.iface.on('CapChanged', h);
    return () => this.iface.removeListener('CapChanged', h);
  }

  async getState(): Promise<PowerdState> {
    const json = await this.call<string>('GetState');
    try {
      return parsePowerdState(json);
    } catch (err) {
      throw new VmanageError(ErrorCodes.ProtocolViolation, `powerd GetState: malformed state: ${(err as Error).message.slice(0, 300)}`, {}, { cause: err });
    }
  }

  /** powerd's counters (power1.calls/denied/refused/failed, sysfs.reads/writes/malformed/ioErrors), for prom-client. */
  async counters(): Promise<Record<string, number>> {
    const raw = await this.call<unknown>('GetCounters');
    const out: Record<string, number> = {};
    if (raw && typeof raw === 'object') {
      for (const [k, v] of Object.entries(raw).slice(0, 256)) if (typeof v === 'number' && Number.isFinite(v)) out[k.slice(0, 64)] = v;
    }
    return out;
  }

  async state(): Promise<CpuFrequencyState[]> {
    const s = await this.getState();
    if (!s.frequency) throw new VmanageError(ErrorCodes.Unsupported, 'powerd has no frequency actuator on this host', { adapter: 'powerd', capability: 'frequency caps' });
    return [...s.frequency.policies];
  }

  async setMaxFrequency(kHz: number): Promise<void> {
    const trace = hopTracer();
    trace.mark('client.cap-call');
    await this.call('SetFrequencyCap', kHz);
    trace.mark('client.cap-reply');
  }

  clearMaxFrequency(): Promise<void> {
    return this.call('ClearFrequencyCap');
  }

  setGovernor(governor: string): Promise<void> {
    return this.call('SetGovernor', governor);
  }

  setEpp(epp: string): Promise<void> {
    return this.call('SetEpp', epp);
  }

  /** A power-limit actuator for one of powerd's sources ("rapl", "dcmi", "sim", ...). Watts are whole (D-Bus u). */
  powerLimit(source: string): PowerLimitActuator {
    return {
      name: `powerd:${source}`,
      state: async (): Promise<PowerLimitState> => {
        const found = (await this.getState()).powerLimits.find((l) => l.source === source || l.source.startsWith(`${source}:`));
        if (!found) throw new VmanageError(ErrorCodes.NotFound, `powerd has no power limit source ${source}`, { source });
        return found;
      },
      setLimit: (watts: number) => {
        if (!Number.isInteger(watts) || watts <= 0 || watts > 0xffffffff) {
          return Promise.reject(new VmanageError(ErrorCodes.InvalidInput, `power limit: expected whole positive watts, got ${watts}`, { value: watts }));
        }
        return this.call('SetPowerLimit', source, watts);
      },
      clearLimit: () => this.call('ClearPowerLimit', source),
    };
  }

  async readPower(): Promise<PowerReading> {
    try {
      const [watts, timestamp, source, stale] = await this.call<[number, number, string, boolean]>('ReadPower');
      const reading = { watts, timestamp, source: `powerd:${source}`, ageMs: 0, stale };
      this.lastReading = reading;
      return reading;
    } catch (err) {
      const e = toVmanageError('ReadPower', err);
      throw e.code === ErrorCodes.PowerSensorUnavailable ? e : new VmanageError(ErrorCodes.PowerSensorUnavailable, e.message, { reason: e.code }, { cause: e });
    }
  }

  private async call<T = void>(method: string, ...args: unknown[]): Promise<T> {
    if (this.busError) throw new VmanageError(ErrorCodes.Unavailable, `powerd ${method}: the bus connection failed: ${this.busError.message}`, { method });
    const fn = this.iface[method];
    if (!fn) throw new VmanageError(ErrorCodes.Unsupported, `powerd has no method ${method}`, { method });
    try {
      return await withTimeout(method, this.timeoutMs, fn.apply(this.iface, args) as Promise<T>);
    } catch (err) {
      throw toVmanageError(method, err);
    }
  }
}

function withTimeout<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new VmanageError(ErrorCodes.Timeout, `powerd ${what}: no answer within ${ms} ms`, { method: what, timeoutMs: ms })), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}
