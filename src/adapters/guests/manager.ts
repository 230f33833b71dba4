// The guest channel manager: one M-channel session per running VM that has the vmanage channel
// (org.vmanage.agent.0), kept in step with the hypervisor's inventory and lifecycle events.
//
// Live migration, source side: the VM stops here with reason 'migrated'; we wait until QEMU
// closed the channel socket (our last read), detach the session and hand its state to the
// destination's host daemon (HandoverSender). Destination side: the VM starts here with reason
// 'migrated' (libvirt fires this before the memory transfer ends); we do not connect until the
// handed-over state arrived, so that nothing is delivered twice or out of order. If it does not
// arrive within handoverWaitMs *of the VM running here* we start a new session (documented
// fallback: the guest's unacknowledged messages of the old session may then be lost, reported
// as a 'handover-timeout' session event and counted). The wait counts from the later of the
// 'started' event and the VM's resume here, and goes on while the VM is still paused (the
// memory transfer has not ended): a migration slower than handoverWaitMs (a loaded host) must
// not make the destination give up before the source could even hand over.
import type { Clock } from '../../domain/clock.js';
import type { Hypervisor, VmEvent } from '../../domain/ports/hypervisor.js';
import { TypedEvents } from '../../mchannel/events.js';
import type { ChannelOptions } from '../../mchannel/options.js';
import type { SessionState } from '../../mchannel/state.js';
import type { Connector } from '../../mchannel/types.js';
import { HandoverStore } from './handover-store.js';
import { virtioSerialTransport, type GuestSession, type GuestTransport } from './transport.js';
import type { GuestEvents } from './types.js';

/** Sends a detached session to the host daemon the VM migrated to. */
export interface HandoverSender {
  send(vm: string, state: SessionState, destination?: string): Promise<void>;
}

export interface ManagerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface GuestChannelManagerOptions {
  readonly hypervisor: Hypervisor;
  /** Channel options for guest sessions (role 'host', the guest protocol's validator, ...). */
  readonly channel: Omit<ChannelOptions, 'state' | 'identity'>;
  readonly clock: Clock;
  readonly handover?: HandoverSender;
  readonly store?: HandoverStore;
  /** How long a migrated-in VM waits for its handed-over session, ms (default 30 000). */
  readonly handoverWaitMs?: number;
  /** How long the source waits for QEMU to close the socket after the VM stopped, ms (default 5000). */
  readonly lastReadWaitMs?: number;
  /** virtio-serial only: how to reach a VM's socket (default a unix connector). */
  readonly connectorFor?: (vm: string, socketPath: string) => Connector;
  /** How sessions reach guests (default virtio-serial over the hypervisor's channel sockets). */
  readonly transport?: GuestTransport;
  readonly log?: ManagerLogger;
}

/** An incoming VM waits for its handed-over state at most this many handoverWaitMs in all. */
const MAX_WAITS = 10;

export class GuestChannelManager {
  readonly events: TypedEvents<GuestEvents>;
  readonly store: HandoverStore;
  readonly counters = { sessionsOpened: 0, resumedFromHandover: 0, handoverTimeouts: 0, handedOff: 0, handoverFailures: 0, inventoryErrors: 0, unresponsive: 0 };
  private readonly sessions = new Map<string, GuestSession>();
  private readonly transport: GuestTransport;
  /** VMs that are migrating in and wait for their session state -> when they last resumed here
   *  (ms; 0 while not yet seen running). One entry per wait: a new one ends an old wait. */
  private readonly incoming = new Map<string, { resumedAt: number }>();
  /** Where a VM is going, when the daemon that starts the migration says so. */
  private readonly destinations = new Map<string, string>();
  private offEvents: (() => void) | undefined;
  private offReconnect: (() => void) | undefined;
  private stopped = false;
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly o: GuestChannelManagerOptions) {
    this.events = new TypedEvents((event, err) => o.log?.warn({ event, err: String(err) }, 'guest event listener failed'));
    this.store = o.store ?? new HandoverStore(o.clock);
    this.transport = o.transport ?? virtioSerialTransport({ hypervisor: o.hypervisor, channel: o.channel, clock: o.clock, ...(o.connectorFor ? { connectorFor: o.connectorFor } : {}) });
    this.events.on('session', (e) => {
      if (e.event !== 'unresponsive') return;
      this.counters.unresponsive++;
      o.log?.warn({ vm: e.vm, ...e.detail }, 'the guest stopped answering: starved of CPU, or its agent or kernel died');
    });
  }

  async start(): Promise<void> {
    this.offEvents = this.o.hypervisor.onEvent((e) => this.serial(() => this.onVmEvent(e)));
    this.offReconnect = this.o.hypervisor.onReconnect?.(() => this.serial(() => this.syncInventory()));
    await this.serial(() => this.syncInventory());
  }

  /**
   * Stops every session without ending it for the guests and returns their states, so that a
   * restarted daemon can resume them (restore) and no report is lost or seen twice.
   */
  async stop(): Promise<Map<string, SessionState>> {
    this.stopped = true;
    this.offEvents?.();
    this.offReconnect?.();
    await this.queue;
    for (const vm of this.incoming.keys()) this.store.cancel(vm);
    const states = new Map<string, SessionState>();
    await Promise.all([...this.sessions.values()].map(async (s) => {
      const state = await s.detach();
      if (state) states.set(s.vm, state);
    }));
    this.sessions.clear();
    return states;
  }

  /** Sessions saved by a previous run of this daemon (see stop()); call before start(). */
  restore(states: ReadonlyMap<string, SessionState>): void {
    for (const [vm, state] of states) this.store.put(vm, state, 'restart');
  }

  /** The session of a VM (for requests such as host.config), if one is open. */
  session(vm: string): GuestSession | undefined {
    return this.sessions.get(vm);
  }

  /** Tells the manager that vm is about to migrate to the host daemon `destination` (a peer name). */
  expectDeparture(vm: string, destination: string): void {
    this.destinations.set(vm, destination);
  }

  /** A session state handed over by another host daemon (already validated). */
  receiveHandover(vm: string, state: SessionState, from: string): void {
    this.o.log?.info({ vm, from, sessionId: state.sessionId, received: state.received }, 'session state handed over');
    this.store.put(vm, state, from);
    // If the VM already runs here but its "started" event was missed, the inventory finds it.
    if (!this.sessions.has(vm) && !this.incoming.has(vm) && !this.stopped) void this.serial(() => this.syncInventory());
  }

  /** Lifecycle events and inventory syncs run one at a time, in arrival order. */
  private serial(fn: () => Promise<void>): Promise<void> {
    const next = this.queue.then(fn).catch((err: unknown) => this.o.log?.warn({ err: String(err) }, 'guest channel manager step failed'));
    this.queue = next;
    return next;
  }

  private async syncInventory(): Promise<void> {
    if (this.stopped) return;
    let vms;
    try {
      vms = await this.o.hypervisor.listVms();
    } catch (err) {
      this.counters.inventoryErrors++;
      this.o.log?.warn({ err: String(err) }, 'cannot list VMs');
      return;
    }
    // A paused VM may be an incoming migration whose session is still on the source: it is
    // opened only with a handed-over state (else when it resumes).
    const live = vms.filter((v) => v.state === 'running' || (v.state === 'paused' && this.store.has(v.uuid)));
    const running = new Set(vms.filter((v) => v.state === 'running' || v.state === 'paused').map((v) => v.uuid));
    for (const { uuid } of live) if (!this.sessions.has(uuid) && !this.incoming.has(uuid)) await this.open(uuid, false);
    for (const vm of [...this.sessions.keys()]) if (!running.has(vm)) await this.leave(vm, false);
  }

  private async onVmEvent(e: VmEvent): Promise<void> {
    if (this.stopped) return;
    const waiting = this.incoming.get(e.uuid);
    if (waiting && (e.kind === 'resumed' || e.kind === 'started')) waiting.resumedAt = this.o.clock.now();
    if (e.kind === 'started' || e.kind === 'resumed') await this.open(e.uuid, e.reason === 'migrated');
    else if (e.kind === 'stopped' || e.kind === 'crashed') await this.leave(e.uuid, e.reason === 'migrated');
  }

  /** Opens the VM's session; a migrated-in VM first waits for its handed-over state. */
  private async open(vm: string, migratedIn: boolean): Promise<void> {
    if (this.sessions.has(vm) || this.incoming.has(vm)) return;
    let path: string | undefined;
    try {
      path = await this.transport.locate(vm);
    } catch (err) {
      this.o.log?.warn({ vm, err: String(err) }, 'cannot read the VM channel path');
      return;
    }
    if (!path) return;
    const state = this.store.take(vm)?.state;
    if (!state && migratedIn) {
      // Do not block other VMs' events while this one waits.
      const entry = { resumedAt: 0 };
      this.incoming.set(vm, entry);
      void this.waitForHandover(vm, path, entry);
      return;
    }
    this.attach(vm, path, state, false);
  }

  private async waitForHandover(vm: string, path: string, entry: { resumedAt: number }): Promise<void> {
    const waitMs = this.o.handoverWaitMs ?? 30_000;
    const started = this.o.clock.now();
    const mine = (): boolean => this.incoming.get(vm) === entry && !this.stopped;
    let got = await this.store.wait(vm, waitMs);
    // Not yet waitMs since the VM ran here: wait for the rest (at most MAX_WAITS x waitMs in all).
    for (let more = await this.moreWaitMs(vm, waitMs, entry); !got && more > 0 && mine() && this.o.clock.now() - started < MAX_WAITS * waitMs; more = await this.moreWaitMs(vm, waitMs, entry)) {
      got = await this.store.wait(vm, more);
    }
    if (!mine()) return;
    this.incoming.delete(vm);
    if (!got) {
      this.counters.handoverTimeouts++;
      this.o.log?.warn({ vm, waitMs }, 'no session state handed over in time: starting a new session');
      this.events.emit('session', { vm, event: 'handover-timeout', detail: { waitMs } });
    }
    this.attach(vm, path, got?.state, true);
  }

  /** How much longer an incoming VM waits for its state: all of waitMs again while it is still
   *  paused (the migration has not ended), the rest of waitMs after it resumed here (from the
   *  first check if its resume was not seen), else 0. */
  private async moreWaitMs(vm: string, waitMs: number, entry: { resumedAt: number }): Promise<number> {
    if (this.incoming.get(vm) !== entry || this.stopped) return 0;
    const paused = await this.o.hypervisor.getVm(vm).then((v) => v.state === 'paused', () => false);
    if (paused) return waitMs;
    if (entry.resumedAt > 0) return Math.max(0, entry.resumedAt + waitMs - this.o.clock.now());
    // Running, but its resume here was not seen (a missed event): count from now, once.
    entry.resumedAt = this.o.clock.now();
    return waitMs;
  }

  private attach(vm: string, path: string, state: SessionState | undefined, migratedIn: boolean): void {
    const s = this.transport.open(vm, path, state, this.events);
    this.sessions.set(vm, s);
    this.counters.sessionsOpened++;
    if (state) this.counters.resumedFromHandover++;
    const event = state ? 'resumed-from-handover' : 'opened';
    this.o.log?.info({ vm, path, transport: this.transport.kind, sessionId: s.sessionId, migratedIn, received: state?.received }, `guest session ${event}`);
    this.events.emit('session', { vm, event, detail: { sessionId: s.sessionId, path } });
  }

  /** The VM left this host: hand its session over when it migrated, else drop it. */
  private async leave(vm: string, migratedOut: boolean): Promise<void> {
    if (this.incoming.has(vm)) {
      this.incoming.delete(vm);
      this.store.cancel(vm);
      return;
    }
    const s = this.sessions.get(vm);
    if (!s) return;
    this.sessions.delete(vm);
    if (!migratedOut) {
      await s.drop();
      this.events.emit('session', { vm, event: 'closed' });
      return;
    }
    const lastRead = await s.whenDisconnected(this.o.lastReadWaitMs ?? 5000);
    const state = await s.detach();
    const destination = this.destinations.get(vm);
    this.destinations.delete(vm);
    if (!state) {
      this.o.log?.info({ vm, destination }, 'the guest never opened a session here: nothing to hand over');
      this.events.emit('session', { vm, event: 'closed' });
      return;
    }
    try {
      if (!this.o.handover) throw new Error('no handover peer configured');
      await this.o.handover.send(vm, state, destination);
      this.counters.handedOff++;
      this.o.log?.info({ vm, destination, sessionId: state.sessionId, received: state.received, unacked: state.replay.length, lastRead }, 'guest session handed off');
      this.events.emit('session', { vm, event: 'handed-off', detail: { destination, received: state.received } });
    } catch (err) {
      this.counters.handoverFailures++;
      this.o.log?.warn({ vm, destination, err: String(err) }, 'guest session handover failed');
      this.events.emit('session', { vm, event: 'handover-failed', detail: { destination, err: String(err) } });
    }
  }
}
