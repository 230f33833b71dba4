// org.vmanage.Power1 on D-Bus (dbus-next): methods, read-only properties (with PropertiesChanged)
// and the CapChanged signal. Every mutating call is authorised by the caller's Unix uid/groups as
// the bus daemon reports them, then validated by PowerService. Errors leave as D-Bus errors named
// org.vmanage.Power1.Error.*; nothing a caller sends can throw past this layer.
//
// dbus-next does not pass the message to a service method; a method handler installed on the bus
// runs synchronously just before the method for the same message, so `takeSender()` at the very
// start of a method (before any await) returns that message's sender.
import dbus from 'dbus-next';
import type { Message, MessageBus } from 'dbus-next';
import type { Logger } from 'pino';
import { isVmanageError } from '../../domain/errors.js';
import type { PowerReading } from '../../domain/ports/power.js';
import { dbusErrorNameFor, POWER1_ERRORS, POWER1_IFACE, POWER1_PATH } from '../../adapters/power/powerd-client-protocol.js';
import { hopTracer } from '../../adapters/power/hop-trace.js';
import { AccessDenied, type Caller, type CallerAuthoriser } from './auth.js';
import type { Change, PowerService } from './service.js';

const { Interface } = dbus.interface;

export interface Power1Counters {
  calls: number;
  denied: number;
  refused: number;
  failed: number;
}

interface Snapshot {
  FrequencyCapKHz: number;
  MinFrequencyKHz: number;
  MaxFrequencyKHz: number;
  Governor: string;
  Epp: string;
  PowerLimits: Record<string, number>;
  PowerWatts: number;
  PowerTimestampMs: number;
  PowerSource: string;
  PowerStale: boolean;
}

const EMPTY: Snapshot = {
  FrequencyCapKHz: 0, MinFrequencyKHz: 0, MaxFrequencyKHz: 0, Governor: '', Epp: '', PowerLimits: {},
  PowerWatts: 0, PowerTimestampMs: 0, PowerSource: '', PowerStale: true,
};

export class Power1Interface extends Interface {
  readonly counters: Power1Counters = { calls: 0, denied: 0, refused: 0, failed: 0 };
  private current?: Message;
  private snap: Snapshot = { ...EMPTY, PowerLimits: {} };

  constructor(private readonly bus: MessageBus, private readonly service: PowerService, private readonly auth: CallerAuthoriser, private readonly log: Logger) {
    super(POWER1_IFACE);
    bus.addMethodHandler((msg: Message) => {
      this.current = msg;
      return false;
    });
    service.on('change', (c) => this.onChange(c));
  }

  // --- properties (read-only; 0 / "" mean none) ---
  get FrequencyCapKHz(): number { return this.snap.FrequencyCapKHz; }
  get MinFrequencyKHz(): number { return this.snap.MinFrequencyKHz; }
  get MaxFrequencyKHz(): number { return this.snap.MaxFrequencyKHz; }
  get Governor(): string { return this.snap.Governor; }
  get Epp(): string { return this.snap.Epp; }
  get PowerLimits(): Record<string, number> { return this.snap.PowerLimits; }
  get PowerWatts(): number { return this.snap.PowerWatts; }
  get PowerTimestampMs(): number { return this.snap.PowerTimestampMs; }
  get PowerSource(): string { return this.snap.PowerSource; }
  get PowerStale(): boolean { return this.snap.PowerStale; }

  // --- methods ---
  GetState(): Promise<string> {
    return this.guard('GetState', false, async () => JSON.stringify(await this.service.state()));
  }

  /** Counters as name -> count: this interface's (power1.*), caller lookups (auth.*) and the backend's (sysfs.*). */
  GetCounters(): Promise<Record<string, number>> {
    return this.guard('GetCounters', false, async () => {
      const out: Record<string, number> = {};
      for (const [k, v] of Object.entries(this.counters)) out[`power1.${k}`] = v;
      for (const [k, v] of Object.entries(this.auth.counters)) out[`auth.${k}`] = v;
      for (const [k, v] of Object.entries(this.service.backend.counters ?? {})) out[`sysfs.${k}`] = v;
      return out;
    });
  }

  ReadPower(): Promise<[number, number, string, boolean]> {
    return this.guard('ReadPower', false, async () => {
      const r = await this.service.readPower();
      this.setReading(r);
      return [r.watts, r.timestamp, r.source, r.stale];
    });
  }

  SetFrequencyCap(kHz: number): Promise<void> {
    const trace = hopTracer();
    trace.mark('powerd.enter');
    return this.guard('SetFrequencyCap', true, async (c) => {
      trace.mark('powerd.authorised');
      await this.service.setFrequencyCap(c, kHz);
      trace.mark('powerd.return');
    });
  }

  ClearFrequencyCap(): Promise<void> {
    return this.guard('ClearFrequencyCap', true, (c) => this.service.clearFrequencyCap(c));
  }

  SetGovernor(governor: string): Promise<void> {
    return this.guard('SetGovernor', true, (c) => this.service.setGovernor(c, governor));
  }

  SetEpp(epp: string): Promise<void> {
    return this.guard('SetEpp', true, (c) => this.service.setEpp(c, epp));
  }

  SetPowerLimit(source: string, watts: number): Promise<void> {
    return this.guard('SetPowerLimit', true, (c) => this.service.setPowerLimit(c, source, watts));
  }

  ClearPowerLimit(source: string): Promise<void> {
    return this.guard('ClearPowerLimit', true, (c) => this.service.clearPowerLimit(c, source));
  }

  // --- signal: (what, caller uid, caller bus name, old, new) ---
  CapChanged(what: string, uid: number, sender: string, old: string, now: string): [string, number, string, string, string] {
    return [what, uid, sender, old, now];
  }

  /** Re-reads state into the properties and emits PropertiesChanged for what differs. */
  async refresh(): Promise<void> {
    const s = await this.service.state();
    const p = s.frequency?.policies ?? [];
    const next: Snapshot = {
      ...this.snap,
      FrequencyCapKHz: s.frequency?.capKHz ?? 0,
      MinFrequencyKHz: p.length ? Math.max(...p.map((x) => x.limits.minKHz)) : 0,
      MaxFrequencyKHz: p.length ? Math.min(...p.map((x) => x.limits.maxKHz)) : 0,
      Governor: p[0]?.governor ?? '',
      Epp: p[0]?.epp ?? '',
      PowerLimits: Object.fromEntries(s.powerLimits.filter((l) => l.limitWatts !== null).map((l) => [l.source, l.limitWatts as number])),
    };
    this.publish(next);
  }

  setReading(r: PowerReading): void {
    this.publish({ ...this.snap, PowerWatts: r.watts, PowerTimestampMs: r.timestamp, PowerSource: r.source, PowerStale: r.stale });
  }

  private publish(next: Snapshot): void {
    const changed = this.swap(next);
    if (changed) Interface.emitPropertiesChanged(this, changed, []);
  }

  /** Makes next the properties' values; returns those that differ (undefined: none). */
  private swap(next: Snapshot): Record<string, unknown> | undefined {
    const changed: Record<string, unknown> = {};
    for (const k of Object.keys(next) as (keyof Snapshot)[]) {
      if (JSON.stringify(next[k]) !== JSON.stringify(this.snap[k])) changed[k] = next[k];
    }
    this.snap = next;
    return Object.keys(changed).length ? changed : undefined;
  }

  /**
   * Publishes the change into the properties at once (a Get after the reply sees it) and sends
   * CapChanged and PropertiesChanged right after the method's reply (setImmediate runs after
   * the microtasks in which dbus-next writes the reply). The caller, usually the host daemon's
   * control loop waiting to make its next change, so gets its answer without waiting for two
   * signals to be marshalled and routed first: measured, a violation arriving while the
   * previous change's reply was still behind its signals waited for that round trip
   * (docs/powerd.md, "Benchmark"). Signals still follow the reply within the same turn of the
   * event loop, in the order of the changes.
   *
   * A frequency cap, governor or EPP change is applied from what was written (the actuator has
   * read it back already): re-reading every policy's and every limit's sysfs files here cost
   * more than the change itself and queued behind the service's lock, delaying the next caller.
   * A power-limit change re-reads the limits (sources may report per-package entries).
   */
  private onChange(c: Change): void {
    let changed: Record<string, unknown> | undefined;
    if (c.what === 'frequency-cap') changed = this.swap({ ...this.snap, FrequencyCapKHz: c.new === '' ? 0 : Number(c.new) });
    else if (c.what === 'governor') changed = this.swap({ ...this.snap, Governor: c.new });
    else if (c.what === 'epp') changed = this.swap({ ...this.snap, Epp: c.new });
    setImmediate(() => {
      this.CapChanged(c.what, c.caller.uid, c.caller.sender, c.old, c.new);
      hopTracer().mark('powerd.signalled');
      if (changed) Interface.emitPropertiesChanged(this, changed, []);
      else if (c.what.startsWith('power-limit:')) this.refresh().catch((err: unknown) => this.log.warn({ err }, 'cannot refresh properties after a change'));
    });
  }

  private takeSender(): string {
    const sender = this.current?.sender ?? '';
    this.current = undefined;
    return sender;
  }

  /** Authorises (for mutations), runs, and turns every failure into a named D-Bus error. */
  private async guard<T>(method: string, mutates: boolean, fn: (caller: Caller) => Promise<T>): Promise<T> {
    const sender = this.takeSender();
    this.counters.calls++;
    try {
      const caller = mutates ? await this.auth.authorise(sender) : { sender, uid: -1, gids: [] };
      return await fn(caller);
    } catch (err) {
      throw this.toDbusError(method, sender, err);
    }
  }

  private toDbusError(method: string, sender: string, err: unknown): Error {
    if (err instanceof AccessDenied) {
      this.counters.denied++;
      this.log.warn({ method, sender, reason: err.message }, 'caller refused');
      return new dbus.DBusError(POWER1_ERRORS.AccessDenied, err.message);
    }
    if (isVmanageError(err)) {
      this.counters.refused++;
      this.log.info({ method, sender, code: err.code, reason: err.message }, 'request refused');
      return new dbus.DBusError(dbusErrorNameFor(err.code), err.message);
    }
    this.counters.failed++;
    this.log.error({ method, sender, err }, 'request failed');
    return new dbus.DBusError(POWER1_ERRORS.Failed, `${method} failed: ${(err as Error)?.message ?? String(err)}`);
  }
}

Power1Interface.configureMembers({
  properties: {
    FrequencyCapKHz: { signature: 'u', access: 'read' },
    MinFrequencyKHz: { signature: 'u', access: 'read' },
    MaxFrequencyKHz: { signature: 'u', access: 'read' },
    Governor: { signature: 's', access: 'read' },
    Epp: { signature: 's', access: 'read' },
    PowerLimits: { signature: 'a{sd}', access: 'read' },
    PowerWatts: { signature: 'd', access: 'read' },
    PowerTimestampMs: { signature: 'd', access: 'read' },
    PowerSource: { signature: 's', access: 'read' },
    PowerStale: { signature: 'b', access: 'read' },
  },
  methods: {
    GetState: { inSignature: '', outSignature: 's' },
    GetCounters: { inSignature: '', outSignature: 'a{sd}' },
    ReadPower: { inSignature: '', outSignature: 'ddsb' },
    SetFrequencyCap: { inSignature: 'u', outSignature: '' },
    ClearFrequencyCap: { inSignature: '', outSignature: '' },
    SetGovernor: { inSignature: 's', outSignature: '' },
    SetEpp: { inSignature: 's', outSignature: '' },
    SetPowerLimit: { inSignature: 'su', outSignature: '' },
    ClearPowerLimit: { inSignature: 's', outSignature: '' },
  },
  signals: {
    CapChanged: { signature: 'susss' },
  },
});

export { POWER1_PATH };
