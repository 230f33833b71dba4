// One VM's M-channel session on this host: a client channel to the VM's channel socket (QEMU
// listens, we connect, and reconnect with backoff when QEMU restarts), whose incoming messages
// become typed events. The identity is the VM's UUID, fixed by which socket we connect to.
//
// A guest that does not answer our hello is reconnected. Once it has answered in this session
// (here or before the handover), each unanswered connection doubles the wait for the next answer
// (deadAfterMs up to HANDSHAKE_PATIENCE times it; a guest never heard of, still booting, keeps
// the base rate: a hello sent before its agent opened the port is lost), because every
// reconnect makes QEMU discard what the guest had queued: a guest slowed down (a loaded host, a
// TCG guest whose code cache is cold after a migration) would otherwise answer each hello just
// too late, forever. After UNRESPONSIVE_AFTER unanswered connections in a row the session says
// so once ('unresponsive', counted by the manager) if its guest had answered before (here, or to
// the daemon it was handed over from): its kernel or agent likely died. A guest never heard of
// (booting, or without an agent) is not reported.
import type { Clock } from '../../domain/clock.js';
import { Channel } from '../../mchannel/channel.js';
import type { ChannelOptions } from '../../mchannel/options.js';
import type { SessionState } from '../../mchannel/state.js';
import type { Connector } from '../../mchannel/types.js';
import type { TypedEvents } from '../../mchannel/events.js';
import { forwardChannelTrouble, pumpGuestMessages, whenChannelDisconnected } from './forward.js';
import type { GuestEvents } from './types.js';

export interface VmSessionOptions {
  readonly vm: string;
  readonly socketPath: string;
  readonly connector: Connector;
  readonly channel: Omit<ChannelOptions, 'state' | 'identity'>;
  readonly clock: Clock;
  readonly events: TypedEvents<GuestEvents>;
  /** Resume this handed-over session instead of starting a new one. */
  readonly state?: SessionState;
}

/** The longest wait for an answer to our hello, in multiples of deadAfterMs. */
export const HANDSHAKE_PATIENCE = 4;
/** Unanswered connections in a row after which the guest is reported unresponsive. */
export const UNRESPONSIVE_AFTER = 3;

export class VmSession {
  readonly vm: string;
  readonly socketPath: string;
  readonly channel: Channel;
  private readonly offs: (() => void)[] = [];
  private readonly pumping: Promise<void>;
  /** Connections in a row that ended without an answer from the guest, and since when (ms). */
  private unanswered = 0;
  private unansweredSince = 0;

  constructor(private readonly o: VmSessionOptions) {
    this.vm = o.vm;
    this.socketPath = o.socketPath;
    const dead = o.channel.deadAfterMs ?? 15_000;
    this.channel = Channel.client(o.connector, { handshakeTimeoutMaxMs: HANDSHAKE_PATIENCE * dead, ...o.channel, identity: 'host', state: o.state });
    const ev = o.events;
    const vm = o.vm;
    let answered = false;
    let known = o.state !== undefined;
    this.offs.push(
      this.channel.events.on('connected', ({ resumed }) => {
        answered = true;
        known = true;
        const after = this.unanswered;
        this.unanswered = 0;
        ev.emit('session', { vm, event: 'connected', detail: { resumed, sessionId: this.channel.sessionId, ...(after ? { afterUnanswered: after } : {}) } });
      }),
      this.channel.events.on('disconnected', ({ error }) => {
        ev.emit('session', { vm, event: 'disconnected', detail: { code: error?.code, reason: error?.message } });
        if (answered) {
          answered = false;
          return;
        }
        if (this.unanswered++ === 0) this.unansweredSince = o.clock.now();
        if (this.unanswered === UNRESPONSIVE_AFTER && known) {
          ev.emit('session', { vm, event: 'unresponsive', detail: { attempts: this.unanswered, silentMs: o.clock.now() - this.unansweredSince } });
        }
      }),
      ...forwardChannelTrouble(this.channel, vm, ev),
    );
    this.pumping = pumpGuestMessages(this.channel, vm, ev, o.clock);
  }

  get sessionId(): string {
    return this.channel.sessionId;
  }

  get connected(): boolean {
    return this.channel.state === 'connected';
  }

  /** Resolves once the current connection is gone (the VM's QEMU closed its socket), or after
   *  timeoutMs: on migration, the source hands the session over only after its last read. */
  async whenDisconnected(timeoutMs: number): Promise<boolean> {
    return await whenChannelDisconnected(this.channel, this.o.clock, timeoutMs);
  }


  /** Stops the session without ending it for the guest and returns its state (migration). */
  async detach(): Promise<SessionState> {
    const state = this.channel.detach();
    this.dispose();
    await this.pumping;
    return state;
  }

  /** Drops the session (the VM is gone): no flush, the guest will start over anyway. */
  async drop(): Promise<void> {
    this.channel.detach();
    this.dispose();
    await this.pumping;
  }

  private dispose(): void {
    for (const off of this.offs.splice(0)) off();
  }
}
