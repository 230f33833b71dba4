// The dom0 side of the xenstore guest channel (Xen): a GuestTransport for the guest channel
// manager. The roles are reversed from virtio-serial: each guest's agent connects over xenstore
// (XenstoreConnector) and dom0 accepts (XenstoreListener following every domain -> ChannelServer).
// A session belongs to the VM named by the transport's peer identity (the toolstack-written
// /local/domain/<domid>/vm UUID), never by what the guest writes.
//
// The manager decides when a VM has a session here (it runs here, or its handed-over state
// arrived): open() marks the VM live and, with a state, resumes it (ChannelServer.resume bound to
// the VM). Only live VMs may start sessions (admit): a migrated-in VM is refused until its state
// is here, so nothing is delivered twice, and a domain without a VM UUID gets nothing. A session
// is resumed only by its own VM (bindSessionsToPeer) and one VM holds at most maxSessionsPerVm
// sessions (its older unconnected ones end first); refusals are counted.
import type { Clock } from '../../domain/clock.js';
import type { XenstoreClient } from '../xen/client.js';
import { connectXenstoreSocket } from '../xen/connect.js';
import type { Channel } from '../../mchannel/channel.js';
import type { TypedEvents } from '../../mchannel/events.js';
import type { ChannelOptions } from '../../mchannel/options.js';
import { ChannelServer } from '../../mchannel/server.js';
import type { SessionState } from '../../mchannel/state.js';
import { XenstoreListener } from '../../mchannel/transports/xenstore.js';
import type { PeerIdentity } from '../../mchannel/types.js';
import { forwardChannelTrouble, pumpGuestMessages, whenChannelDisconnected } from './forward.js';
import type { GuestSession, GuestTransport } from './transport.js';
import type { GuestEvents } from './types.js';

export const DEFAULT_XENSTORE_SOCKET = '/var/run/xenstored/socket';

export interface XenGuestsOptions {
  /** Opens the dom0 xenstore connection (again after it is lost). Default: xenstoreSocket. */
  readonly open?: () => Promise<XenstoreClient>;
  readonly xenstoreSocket?: string;
  /** Channel options for guest sessions (role 'host', the guest protocol's validator, ...). */
  readonly channel: Omit<ChannelOptions, 'state' | 'identity' | 'sessionId'>;
  readonly clock: Clock;
  /** Sessions one VM may hold at once (default 2: its current one and the one it replaces). */
  readonly maxSessionsPerVm?: number;
  /** A session without a connection ends after this long, ms (default 60 000). */
  readonly sessionLingerMs?: number;
  readonly onError?: (domid: number, err: Error) => void;
}

export class XenGuests implements GuestTransport {
  readonly kind = 'xenstore';
  private constructor(readonly listener: XenstoreListener, readonly server: ChannelServer, private readonly live: Map<string, XenVmSession>, private readonly clock: Clock) {
    server.events.on('channel', (ch) => this.onChannel(ch));
  }

  /** Connects to xenstored, serves every guest domain and accepts their sessions. */
  static async start(o: XenGuestsOptions): Promise<XenGuests> {
    const path = o.xenstoreSocket ?? DEFAULT_XENSTORE_SOCKET;
    const listener = await XenstoreListener.reconnecting(o.open ?? (() => connectXenstoreSocket(path)), o.onError ? { onError: o.onError } : {});
    /** VMs whose session runs here (opened by the manager), by UUID. */
    const live = new Map<string, XenVmSession>();
    const server = new ChannelServer(listener, {
      ...o.channel,
      bindSessionsToPeer: true,
      maxSessionsPerPeer: o.maxSessionsPerVm ?? 2,
      admit: (peer: PeerIdentity) => live.has(peer.id),
      ...(o.sessionLingerMs !== undefined ? { sessionLingerMs: o.sessionLingerMs } : {}),
    });
    const self = new XenGuests(listener, server, live, o.clock);
    await listener.followDomains();
    return self;
  }

  locate(): Promise<string> {
    return Promise.resolve(this.listener.address);
  }

  open(vm: string, _where: string, state: SessionState | undefined, events: TypedEvents<GuestEvents>): GuestSession {
    const s = new XenVmSession(vm, events, this.clock, () => { if (this.live.get(vm) === s) this.live.delete(vm); });
    this.live.get(vm)?.drop().catch(() => undefined);
    this.live.set(vm, s);
    if (state) s.bind(this.server.resume(state, vm));
    return s;
  }

  /** Counters for status and /metrics: the listener's, the rings' and the server's refusals. */
  counters(): Record<string, number> {
    const l = this.listener.stats;
    const r = this.server.refusals;
    return {
      xenstore_connections: l.connections, xenstore_bad_connects: l.badConnects, xenstore_reconnects: l.reconnects,
      xenstore_ring_violations: l.violations, xenstore_ring_bytes_in: l.bytesIn, xenstore_ring_bytes_out: l.bytesOut,
      guest_refused_peer_mismatch: r.peerMismatch, guest_refused_session_limit: r.peerSessionLimit,
      guest_refused_not_admitted: r.notAdmitted, guest_sessions_ended_replaced: r.peerSessionsEnded,
      guest_handshake_failures: this.server.counters.handshakeFailures,
    };
  }

  /** Stops accepting; sessions are dropped without a bye (the manager detached them first). */
  async close(): Promise<void> {
    await this.server.close();
  }

  private onChannel(ch: Channel): void {
    const id = ch.peer?.id;
    const s = id === undefined ? undefined : this.live.get(id);
    if (s) s.bind(ch);
    else ch.detach(); // admitted, then dropped before its hello was routed: the guest retries
  }
}

/** One VM's xenstore session(s): follows the newest channel its guest opened. What it keeps per
 *  channel is released when that channel closes (a guest opening sessions in a loop costs the
 *  server's bounded set, not a growing list here). */
class XenVmSession implements GuestSession {
  private current: Channel | undefined;
  private readonly channels = new Map<Channel, { offs: (() => void)[]; pump: Promise<void> }>();

  constructor(readonly vm: string, private readonly events: TypedEvents<GuestEvents>, private readonly clock: Clock, private readonly onEnd: () => void) {}

  get sessionId(): string | undefined {
    return this.current?.sessionId;
  }

  get connected(): boolean {
    return this.current?.state === 'connected';
  }

  bind(ch: Channel): void {
    const { vm, events: ev } = this;
    this.current = ch;
    const offs = [
      ch.events.on('connected', ({ resumed, peer }) => ev.emit('session', { vm, event: 'connected', detail: { resumed, sessionId: ch.sessionId, domid: peer.details?.['domid'] } })),
      ch.events.on('disconnected', ({ error }) => ev.emit('session', { vm, event: 'disconnected', detail: { code: error?.code, reason: error?.message } })),
      ...forwardChannelTrouble(ch, vm, ev),
    ];
    offs.push(ch.events.on('closed', () => this.release(ch)));
    this.channels.set(ch, { offs, pump: pumpGuestMessages(ch, vm, ev, this.clock) });
    if (ch.state === 'connected') ev.emit('session', { vm, event: 'connected', detail: { resumed: false, sessionId: ch.sessionId, domid: ch.peer?.details?.['domid'] } });
  }

  async whenDisconnected(timeoutMs: number): Promise<boolean> {
    return await whenChannelDisconnected(this.current, this.clock, timeoutMs);
  }


  async detach(): Promise<SessionState | undefined> {
    const ch = this.current;
    const state = ch && ch.state !== 'closed' ? ch.detach() : undefined;
    await this.drop();
    return state;
  }

  async drop(): Promise<void> {
    this.onEnd();
    const pumps = [...this.channels.values()].map((c) => c.pump);
    for (const ch of [...this.channels.keys()]) {
      ch.detach();
      this.release(ch);
    }
    this.current = undefined;
    await Promise.all(pumps);
  }

  private release(ch: Channel): void {
    const c = this.channels.get(ch);
    this.channels.delete(ch);
    for (const off of c?.offs ?? []) off();
  }
}
