// The Hypervisor port over libvirt-dbus (org.libvirt) with dbus-next.
// One instance serves one libvirt connection (qemu:///system, xen:///system, test:///default,
// qemu:///session), chosen by URI. It never talks to libvirtd directly: libvirt-dbus does, and
// this adapter only sees D-Bus, whose errors it translates into VmanageError codes.
import type { Clock, TimerHandle } from '../../domain/clock.js';
import { ErrorCodes, VmanageError, isVmanageError } from '../../domain/errors.js';
import {
  AGENT_CHANNEL_NAME, VM_METADATA_NS, type Hypervisor, type SchedulerParams, type VmCpuTime, type VmEvent, type VmInfo, type VmMeta, type VmStats,
} from '../../domain/ports/hypervisor.js';
import { systemClock } from '../clock.js';
import { Affect, AllStatsFlags, StatsTypes } from './constants.js';
import { DbusClient, type BusKind } from './dbus-client.js';
import { channelDeviceXml, channelSocketPathOf, domainSummary, parseDomainXml } from './domain-xml.js';
import { translate, type ErrorContext } from './errors.js';
import { mapLifecycleEvent, mapState } from './events.js';
import { migrate, type LibvirtMigrationOptions } from './migrate.js';
import { parseCpuTimes, parseStats } from './stats.js';
import { connectTarget, domainPath, uuidFromPath } from './uri.js';
import { fromSchedulerRecord, schedulerKind, toSchedulerRecord } from './scheduler.js';
import { unwrap } from './variants.js';
import { checkCreateXml, vmMetaElement, vmMetaOf } from './vm-meta.js';

export interface LibvirtHypervisorOptions {
  /** libvirt URI: qemu:///system, xen:///system, test:///default, qemu:///session. */
  readonly uri: string;
  /** Override the bus kind the URI implies. */
  readonly bus?: BusKind;
  /** Explicit bus address; default from DBUS_SYSTEM_BUS_ADDRESS / DBUS_SESSION_BUS_ADDRESS. */
  readonly busAddress?: string;
  /** Per-call timeout, ms (default 30 s). */
  readonly callTimeoutMs?: number;
  readonly clock?: Clock;
  /**
   * Liveness probe of libvirt-dbus's libvirt connection, ms (default 5000; 0 = off). libvirtd
   * restarting behind libvirt-dbus is only visible as failing calls; the probe turns that into
   * an onReconnect once calls succeed again, even when the daemon makes no calls of its own.
   * Limit (measured, test/libvirt/libvirtd-restart.test.ts): a restart that falls between two
   * calls is invisible, because libvirt-dbus reopens its connection transparently and exposes no
   * per-daemon identity: no onReconnect, and lifecycle events during the gap are lost.
   */
  readonly livenessIntervalMs?: number;
  readonly log?: { warn(obj: object, msg: string): void };
}

const CONNECT = 'org.libvirt.Connect';
const DOMAIN = 'org.libvirt.Domain';

export class LibvirtHypervisor implements Hypervisor {
  readonly uri: string;
  /** Counters for metrics: events received, events with unknown codes, listener failures, VM
   *  metadata attributes left out as invalid (vm-meta.ts), VMs created, GetAllDomainStats
   *  records of an unusable shape. */
  readonly counters = { events: 0, unknownEvents: 0, listenerErrors: 0, badMetadata: 0, created: 0, malformedStats: 0 };
  private readonly client: DbusClient;
  private readonly connectPath: string;
  private readonly clock: Clock;
  private readonly names = new Map<string, string>();
  private readonly eventListeners = new Set<(e: VmEvent) => void>();
  private readonly reconnectListeners = new Set<() => void>();
  private eventsSubscribed: Promise<void> | undefined;
  /** Set when libvirt-dbus reported that libvirtd went away; the next good reply means it is back. */
  private libvirtLost = false;
  private probe: TimerHandle | undefined;
  private closed = false;

  constructor(private readonly opts: LibvirtHypervisorOptions) {
    const target = connectTarget(opts.uri);
    this.uri = target.uri;
    this.connectPath = target.path;
    this.clock = opts.clock ?? systemClock;
    this.client = new DbusClient({
      bus: opts.bus ?? target.bus, service: 'org.libvirt',
      ...(opts.busAddress ? { busAddress: opts.busAddress } : {}),
      ...(opts.callTimeoutMs ? { callTimeoutMs: opts.callTimeoutMs } : {}),
    });
    this.client.on('signal', (s) => this.onSignal(s.path, s.member, s.body));
    this.client.on('reconnect', () => {
      this.libvirtLost = false; // this reconnect is reported here, not again by the next good call
      // A new libvirt-dbus has no libvirt connection (so sends no events) until a method is called.
      this.openLibvirt().catch(() => undefined).finally(() => this.emitReconnect());
    });
  }

  /** Connects to the bus and subscribes to lifecycle events; optional (every call connects lazily). */
  async connect(): Promise<void> {
    await this.client.connect().catch((err: unknown) => { throw translate(err, { op: 'connect' }); });
    await this.subscribeEvents();
    this.scheduleProbe();
  }

  private scheduleProbe(): void {
    const every = this.opts.livenessIntervalMs ?? 5_000;
    if (every <= 0 || this.closed || this.probe) return;
    this.probe = this.clock.setTimer(every, () => {
      this.probe = undefined;
      this.call(this.connectPath, CONNECT, 'ListDomains', 'u', [0], { op: 'liveness' })
        .catch(() => undefined)
        .finally(() => this.scheduleProbe());
    });
  }

  get dbusCounters(): Readonly<DbusClient['counters']> {
    return this.client.counters;
  }

  async listVms(): Promise<VmInfo[]> {
    const [paths] = await this.call(this.connectPath, CONNECT, 'ListDomains', 'u', [0], { op: 'ListDomains' }) as [string[]];
    const vms = await Promise.all(paths.map(async (p) => {
      const uuid = uuidFromPath(this.connectPath, p);
      if (!uuid) return undefined;
      try {
        return await this.getVm(uuid);
      } catch (err) {
        if (isVmanageError(err, ErrorCodes.VmNotFound)) return undefined; // undefined between list and read
        throw err;
      }
    }));
    return vms.filter((v): v is VmInfo => v !== undefined);
  }

  async getVm(uuid: string): Promise<VmInfo> {
    const path = domainPath(this.connectPath, uuid);
    const [xml] = await this.call(path, DOMAIN, 'GetXMLDesc', 'u', [0], { op: 'GetXMLDesc', uuid }) as [string];
    const [[state]] = await this.call(path, DOMAIN, 'GetState', 'u', [0], { op: 'GetState', uuid }) as [[number, number]];
    const dom = parseDomainXml(xml);
    const s = domainSummary(dom);
    this.names.set(s.uuid, s.name);
    const m = vmMetaOf(dom);
    if (m.problems.length > 0) {
      this.counters.badMetadata += m.problems.length;
      this.opts.log?.warn({ uuid: s.uuid, name: s.name, problems: m.problems }, `libvirt: VM ${s.name}: vmanage metadata attributes left out: ${m.problems.join('; ')}`);
    }
    return { ...s, state: mapState(state), ...(m.meta ? { meta: m.meta } : {}) };
  }

  /**
   * Defines the VM (DomainDefineXML), writes its vmanage metadata (SetMetadata, persistent) and
   * starts it (Create). A UUID that names an existing VM here is refused before libvirt is asked
   * (DefineXML would silently replace that VM's definition). If the metadata or the start fails,
   * the new definition is undefined again and libvirt's error is thrown.
   */
  async createVm(xml: string, meta: VmMeta): Promise<VmInfo> {
    const c = checkCreateXml(xml);
    const exists = await this.getVm(c.uuid).then(() => true, (err: unknown) => {
      if (isVmanageError(err, ErrorCodes.VmNotFound)) return false;
      throw err;
    });
    if (exists) throw new VmanageError(ErrorCodes.InvalidInput, `VM ${c.uuid} already exists on this host: its definition is not replaced`, { uuid: c.uuid, field: 'xml' });
    const fallback = ErrorCodes.VmCreateFailed;
    const [path] = await this.call(this.connectPath, CONNECT, 'DomainDefineXML', 's', [c.xml], { op: 'DomainDefineXML', fallback }) as [string];
    try {
      await this.call(path, DOMAIN, 'SetMetadata', 'isssu', [2 /* VIR_DOMAIN_METADATA_ELEMENT */, vmMetaElement(meta), 'vmanage', VM_METADATA_NS, Affect.CONFIG], { op: 'SetMetadata', uuid: c.uuid, fallback });
      await this.call(path, DOMAIN, 'Create', 'u', [0], { op: 'Create', uuid: c.uuid, fallback });
    } catch (err) {
      await this.call(path, DOMAIN, 'Undefine', 'u', [0], { op: 'Undefine', uuid: c.uuid }).catch((e: unknown) => this.opts.log?.warn({ err: String(e), uuid: c.uuid }, 'libvirt: a VM that failed to start could not be undefined again'));
      throw err;
    }
    this.counters.created += 1;
    return await this.getVm(c.uuid);
  }

  async stats(uuid: string): Promise<VmStats> {
    const path = domainPath(this.connectPath, uuid);
    const types = StatsTypes.STATE | StatsTypes.CPU_TOTAL | StatsTypes.BALLOON | StatsTypes.VCPU;
    const [records] = await this.call(path, DOMAIN, 'GetStats', 'uu', [types, 0], { op: 'GetStats', uuid });
    // MemoryStats needs a balloon driver in the guest; without one the GetStats balloon.* values remain.
    const mem = await this.call(path, DOMAIN, 'MemoryStats', 'u', [0], { op: 'MemoryStats', uuid })
      .then((r) => r[0], () => undefined);
    return parseStats(uuid, records, mem, this.clock.now());
  }

  /**
   * Every running VM's CPU time in one GetAllDomainStats call (NOWAIT: a VM in a migration job
   * does not hold the call). Records come by domain name; names map to UUIDs through the names
   * this adapter learnt when it read each VM (listVms / getVm), so a VM not read yet is absent.
   */
  async cpuTimes(): Promise<ReadonlyMap<string, VmCpuTime>> {
    const [records] = await this.call(this.connectPath, CONNECT, 'GetAllDomainStats', 'uu', [StatsTypes.STATE | StatsTypes.CPU_TOTAL, AllStatsFlags.ACTIVE | AllStatsFlags.NOWAIT], { op: 'GetAllDomainStats' });
    const { byName, malformed } = parseCpuTimes(records, this.clock.now());
    this.counters.malformedStats += malformed;
    const out = new Map<string, VmCpuTime>();
    for (const [uuid, name] of this.names) {
      const t = byName.get(name);
      if (t) out.set(uuid, t);
    }
    return out;
  }

  onEvent(listener: (e: VmEvent) => void): () => void {
    this.eventListeners.add(listener);
    this.scheduleProbe();
    this.subscribeEvents().catch((err: unknown) => this.opts.log?.warn({ err: String(err) }, 'libvirt: cannot subscribe to DomainEvent yet; retried on reconnect'));
    return () => this.eventListeners.delete(listener);
  }

  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  async getScheduler(uuid: string): Promise<SchedulerParams> {
    const path = domainPath(this.connectPath, uuid);
    const [params] = await this.call(path, DOMAIN, 'GetSchedulerParameters', 'u', [0], { op: 'GetSchedulerParameters', uuid });
    return fromSchedulerRecord(params);
  }

  async setScheduler(uuid: string, params: SchedulerParams): Promise<void> {
    const path = domainPath(this.connectPath, uuid);
    const [prop] = await this.call(path, 'org.freedesktop.DBus.Properties', 'Get', 'ss', [DOMAIN, 'SchedulerType'], { op: 'SchedulerType', uuid });
    const [type] = unwrap(prop) as [string, number];
    const rec = toSchedulerRecord(params, schedulerKind(type));
    if (Object.keys(rec).length === 0) return;
    await this.call(path, DOMAIN, 'SetSchedulerParameters', 'a{sv}u', [rec, Affect.CURRENT], { op: 'SetSchedulerParameters', uuid });
  }

  async migrate(uuid: string, opts: LibvirtMigrationOptions): Promise<void> {
    await migrate(this.client, domainPath(this.connectPath, uuid), uuid, opts);
  }

  async channelSocketPath(uuid: string): Promise<string | undefined> {
    const path = domainPath(this.connectPath, uuid);
    const [xml] = await this.call(path, DOMAIN, 'GetXMLDesc', 'u', [0], { op: 'GetXMLDesc', uuid }) as [string];
    return channelSocketPathOf(parseDomainXml(xml), AGENT_CHANNEL_NAME);
  }

  /** Idempotent: a VM that has the channel already keeps it, and its path is returned. */
  async attachChannel(uuid: string, socketPath: string): Promise<string> {
    const existing = await this.channelSocketPath(uuid);
    if (existing) return existing;
    const xml = channelDeviceXml(socketPath, this.connectPath.endsWith('/Xen') ? 'xen' : 'virtio');
    await this.call(domainPath(this.connectPath, uuid), DOMAIN, 'AttachDevice', 'su', [xml, Affect.LIVE], { op: 'AttachDevice', uuid });
    return socketPath;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.probe?.cancel();
    this.eventListeners.clear();
    this.reconnectListeners.clear();
    await this.client.close();
  }

  private async call(path: string, iface: string, member: string, sig: string, body: unknown[], ctx: ErrorContext): Promise<unknown[]> {
    try {
      const r = await this.client.call(path, iface, member, sig, body);
      if (this.libvirtLost) {
        this.libvirtLost = false;
        this.emitReconnect();
      }
      return r;
    } catch (err) {
      const e = translate(err, ctx);
      if (e.code === ErrorCodes.HypervisorUnavailable) this.libvirtLost = true;
      throw e;
    }
  }

  /**
   * libvirt-dbus opens its libvirt connection, and registers for libvirt's events, only on the
   * first method call on the connect object: a cheap call makes events flow.
   */
  private async openLibvirt(): Promise<void> {
    await this.client.call(this.connectPath, CONNECT, 'ListDomains', 'u', [0]);
  }

  private subscribeEvents(): Promise<void> {
    this.eventsSubscribed ??= this.client.addMatch({ path: this.connectPath, iface: CONNECT, member: 'DomainEvent' })
      .then(() => this.openLibvirt())
      .catch((err: unknown) => {
        this.eventsSubscribed = undefined;
        throw translate(err, { op: 'AddMatch DomainEvent' });
      });
    return this.eventsSubscribed;
  }

  private onSignal(path: string, member: string, body: unknown[]): void {
    if (path !== this.connectPath || member !== 'DomainEvent') return;
    this.counters.events += 1;
    const [domain, event, detail] = body as [unknown, unknown, unknown];
    const uuid = typeof domain === 'string' ? uuidFromPath(this.connectPath, domain) : undefined;
    const mapped = typeof event === 'number' && typeof detail === 'number' ? mapLifecycleEvent(event, detail) : undefined;
    if (!uuid || !mapped) {
      this.counters.unknownEvents += 1;
      return;
    }
    const name = this.names.get(uuid);
    const e: VmEvent = { uuid, kind: mapped.kind, detail: detail as number, ...(name ? { name } : {}), ...(mapped.reason ? { reason: mapped.reason } : {}) };
    if (e.kind === 'undefined') this.names.delete(uuid);
    for (const l of this.eventListeners) {
      try {
        l(e);
      } catch (err) {
        this.counters.listenerErrors += 1;
        this.opts.log?.warn({ err: String(err), uuid }, 'libvirt: an event listener failed');
      }
    }
  }

  private emitReconnect(): void {
    for (const l of this.reconnectListeners) {
      try {
        l();
      } catch (err) {
        this.counters.listenerErrors += 1;
        this.opts.log?.warn({ err: String(err) }, 'libvirt: a reconnect listener failed');
      }
    }
  }
}
