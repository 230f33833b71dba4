// A small D-Bus client for one service (org.libvirt) on one bus, built on dbus-next's low-level
// Message API (no introspection round trip per object). It owns the bus connection and keeps it:
// - every call has a timeout (dbus-next never rejects a pending call when the bus goes away);
// - if the bus connection ends it reconnects with capped exponential backoff and re-adds the
//   signal match rules;
// - it watches NameOwnerChanged for the service so a restart of the service (libvirt-dbus) is
//   noticed even when the bus stays up.
// `onReconnect` listeners run after either kind of recovery, so callers re-read their state.
import dbus from 'dbus-next';
import { EventEmitter } from 'node:events';

export type BusKind = 'system' | 'session';

export interface DbusClientOptions {
  readonly bus: BusKind;
  /** Explicit bus address (unix:path=...); default: DBUS_SYSTEM_BUS_ADDRESS / DBUS_SESSION_BUS_ADDRESS. */
  readonly busAddress?: string;
  /** Well-known name of the service, e.g. org.libvirt. */
  readonly service: string;
  /** Per-call timeout, ms. */
  readonly callTimeoutMs?: number;
  /** First and maximum reconnect delay, ms. */
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
}

export interface SignalMatch {
  readonly path?: string;
  readonly iface: string;
  readonly member: string;
}

/** A D-Bus error reply or a local failure (timeout, not connected), before translation. */
export class DbusCallError extends Error {
  constructor(readonly errorName: string, message: string, readonly member: string) {
    super(message);
    this.name = 'DbusCallError';
  }
}

export const LocalErrors = {
  Timeout: 'vmanage.Local.Timeout',
  NotConnected: 'vmanage.Local.NotConnected',
} as const;

const DBUS = { name: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', iface: 'org.freedesktop.DBus' };

type Bus = ReturnType<typeof dbus.sessionBus>;

export class DbusClient {
  private bus: Bus | undefined;
  private connecting: Promise<Bus> | undefined;
  private closed = false;
  private backoffMs: number;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly events = new EventEmitter();
  private readonly matches: SignalMatch[] = [];
  private readonly callTimeoutMs: number;
  /** Rejecters of calls in flight, so a lost bus fails them at once instead of at their timeout. */
  private readonly inFlight = new Set<(err: Error) => void>();
  /** Counts, for metrics: bus reconnects and service (re)appearances. */
  readonly counters = { busReconnects: 0, serviceRestarts: 0, callTimeouts: 0 };

  constructor(private readonly opts: DbusClientOptions) {
    this.callTimeoutMs = opts.callTimeoutMs ?? 30_000;
    this.backoffMs = opts.reconnectMinMs ?? 100;
    this.events.setMaxListeners(0);
  }

  /** Connects (once); later calls reuse the connection. */
  async connect(): Promise<void> {
    await this.ensureBus();
  }

  on(event: 'signal', fn: (m: { path: string; iface: string; member: string; body: unknown[] }) => void): () => void;
  on(event: 'reconnect' | 'disconnect', fn: () => void): () => void;
  on(event: string, fn: (...args: any[]) => void): () => void { // eslint-disable-line @typescript-eslint/no-explicit-any
    this.events.on(event, fn);
    return () => this.events.off(event, fn);
  }

  /** Subscribes to a signal from the service (AddMatch now and again after every bus reconnect). */
  async addMatch(m: SignalMatch): Promise<void> {
    this.matches.push(m);
    const bus = await this.ensureBus();
    await this.sendAddMatch(bus, m);
  }

  /** Calls a method of the service; rejects with DbusCallError on an error reply or timeout. */
  async call(path: string, iface: string, member: string, signature = '', body: unknown[] = [], timeoutMs = this.callTimeoutMs): Promise<unknown[]> {
    const bus = await this.ensureBus();
    return await this.rawCall(bus, { destination: this.opts.service, path, interface: iface, member, signature, body }, timeoutMs);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    const bus = this.bus;
    this.bus = undefined;
    if (bus) bus.disconnect();
    this.events.removeAllListeners();
  }

  private async rawCall(bus: Bus, m: { destination: string; path: string; interface: string; member: string; signature: string; body: unknown[] }, timeoutMs: number): Promise<unknown[]> {
    const msg = new dbus.Message({ ...m, body: m.body as never[] });
    let timer: NodeJS.Timeout | undefined;
    let abort: ((err: Error) => void) | undefined;
    const timeout = new Promise<never>((_, reject) => {
      abort = reject;
      this.inFlight.add(reject);
      timer = setTimeout(() => {
        this.counters.callTimeouts += 1;
        reject(new DbusCallError(LocalErrors.Timeout, `no reply to ${m.interface}.${m.member} within ${timeoutMs} ms`, m.member));
      }, timeoutMs);
    });
    try {
      const reply = await Promise.race([bus.call(msg), timeout]);
      return reply?.body ?? [];
    } catch (err) {
      if (err instanceof DbusCallError) throw err;
      const e = err as { type?: string; text?: string; message?: string };
      throw new DbusCallError(e.type ?? 'vmanage.Local.Error', e.text ?? e.message ?? String(err), m.member);
    } finally {
      clearTimeout(timer);
      if (abort) this.inFlight.delete(abort);
    }
  }

  private async ensureBus(): Promise<Bus> {
    if (this.closed) throw new DbusCallError(LocalErrors.NotConnected, 'client is closed', 'connect');
    if (this.bus) return this.bus;
    this.connecting ??= this.open().finally(() => { this.connecting = undefined; });
    return await this.connecting;
  }

  private async open(): Promise<Bus> {
    const address = this.opts.busAddress
      ?? (this.opts.bus === 'system' ? process.env.DBUS_SYSTEM_BUS_ADDRESS ?? 'unix:path=/var/run/dbus/system_bus_socket' : process.env.DBUS_SESSION_BUS_ADDRESS);
    if (!address) throw new DbusCallError(LocalErrors.NotConnected, `no ${this.opts.bus} bus address (set DBUS_${this.opts.bus.toUpperCase()}_BUS_ADDRESS)`, 'connect');
    const bus = dbus.sessionBus({ busAddress: address });
    // dbus-next can emit more than one 'error' for one failure: never leave it without a listener.
    bus.on('error', () => this.lost(bus));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: unknown): void => {
        reject(new DbusCallError(LocalErrors.NotConnected, `cannot connect to ${address}: ${String((err as Error)?.message ?? err)}`, 'connect'));
      };
      bus.once('error', onError);
      bus.once('connect', () => { bus.off('error', onError); resolve(); });
    }).catch((err: unknown) => {
      try { bus.disconnect(); } catch { /* never connected */ }
      throw err;
    });
    // dbus-next does not forward the stream's end; a closed bus is only seen here.
    (bus as unknown as { _connection: EventEmitter })._connection.on('end', () => this.lost(bus));
    bus.on('message', (msg) => this.dispatch(msg));
    try {
      await this.sendAddMatch(bus, { path: DBUS.path, iface: DBUS.iface, member: 'NameOwnerChanged' }, DBUS.name, `arg0='${this.opts.service}'`);
      for (const m of this.matches) await this.sendAddMatch(bus, m);
    } catch (err) {
      try { bus.disconnect(); } catch { /* already closed */ }
      throw err;
    }
    this.bus = bus;
    this.backoffMs = this.opts.reconnectMinMs ?? 100;
    return bus;
  }

  private async sendAddMatch(bus: Bus, m: SignalMatch, sender = this.opts.service, extra = ''): Promise<void> {
    const parts = [`type='signal'`, `sender='${sender}'`, `interface='${m.iface}'`, `member='${m.member}'`];
    if (m.path) parts.push(`path='${m.path}'`);
    if (extra) parts.push(extra);
    await this.rawCall(bus, { destination: DBUS.name, path: DBUS.path, interface: DBUS.iface, member: 'AddMatch', signature: 's', body: [parts.join(',')] }, this.callTimeoutMs);
  }

  private dispatch(msg: InstanceType<typeof dbus.Message>): void {
    if (msg.type !== dbus.MessageType.SIGNAL) return;
    if (msg.interface === DBUS.iface && msg.member === 'NameOwnerChanged') {
      const [name, , newOwner] = msg.body as [string, string, string];
      if (name === this.opts.service && newOwner) {
        this.counters.serviceRestarts += 1;
        this.events.emit('reconnect');
      } else if (name === this.opts.service) {
        this.events.emit('disconnect');
      }
      return;
    }
    this.events.emit('signal', { path: msg.path, iface: msg.interface, member: msg.member, body: msg.body });
  }

  private lost(bus: Bus): void {
    if (this.bus !== bus) return;
    this.bus = undefined;
    try { bus.disconnect(); } catch { /* already closed */ }
    for (const reject of this.inFlight) reject(new DbusCallError(LocalErrors.NotConnected, 'the bus connection was lost', 'call'));
    this.inFlight.clear();
    this.events.emit('disconnect');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.opts.reconnectMaxMs ?? 5_000);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.ensureBus().then(() => {
        this.counters.busReconnects += 1;
        this.events.emit('reconnect');
      }, () => this.scheduleReconnect());
    }, delay);
    this.reconnectTimer.unref();
  }
}
