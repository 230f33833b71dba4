// One VM's M-channel session on this host: a client channel to the VM's channel socket (QEMU
// listens, we connect, and reconnect with backoff when QEMU restarts), whose incoming messages
// become typed events. The identity is the VM's UUID, fixed by which socket we connect to.
import type { Clock } from '../../domain/clock.js';
import { Channel } from '../../mchannel/channel.js';
import type { ChannelOptions } from '../../mchannel/options.js';
import type { SessionState } from '../../mchannel/state.js';
import type { Connector } from '../../mchannel/types.js';
import type { TypedEvents } from '../../mchannel/events.js';
import type { GuestEvents, SlaReport } from './types.js';

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

export class VmSession {
  readonly vm: string;
  readonly socketPath: string;
  readonly channel: Channel;
  private readonly offs: (() => void)[] = [];
  private pumping: Promise<void>;

  constructor(private readonly o: VmSessionOptions) {
    this.vm = o.vm;
    this.socketPath = o.socketPath;
    this.channel = Channel.client(o.connector, { ...o.channel, identity: 'host', state: o.state });
    const ev = o.events;
    const vm = o.vm;
    this.offs.push(
      this.channel.events.on('connected', ({ resumed }) => ev.emit('session', { vm, event: 'connected', detail: { resumed, sessionId: this.channel.sessionId } })),
      this.channel.events.on('disconnected', ({ error }) => ev.emit('session', { vm, event: 'disconnected', detail: { code: error?.code, reason: error?.message } })),
      this.channel.events.on('gap', (g) => ev.emit('session', { vm, event: 'gap', detail: { direction: g.direction, fromSeq: g.fromSeq, toSeq: g.toSeq } })),
      this.channel.events.on('reset', (r) => ev.emit('session', { vm, event: 'reset', detail: { ...r } })),
      this.channel.events.on('invalid', (i) => ev.emit('session', { vm, event: 'invalid', detail: { kind: i.kind, seq: i.seq, code: i.error.code } })),
    );
    this.pumping = this.pump();
  }

  /** Delivers incoming messages as typed events until the channel closes. */
  private async pump(): Promise<void> {
    const ev = this.o.events;
    try {
      for await (const m of this.channel) {
        const meta = { vm: this.vm, seq: m.seq, stale: m.stale, receivedAt: this.o.clock.now() };
        const body = (m.body ?? {}) as Record<string, unknown>;
        if (m.kind === 'sla.report') ev.emit('report', { ...meta, report: body as unknown as SlaReport });
        else if (m.kind === 'agent.heartbeat') ev.emit('heartbeat', { ...meta, body });
        else if (m.kind === 'agent.hello') ev.emit('hello', { ...meta, body });
      }
    } catch {
      /* the channel closed with an error: reported through its events */
    }
  }

  get connected(): boolean {
    return this.channel.state === 'connected';
  }

  /** Resolves once the current connection is gone (the VM's QEMU closed its socket), or after
   *  timeoutMs: on migration, the source hands the session over only after its last read. */
  async whenDisconnected(timeoutMs: number): Promise<boolean> {
    if (this.channel.state !== 'connected' && this.channel.state !== 'connecting') return true;
    if (this.channel.state === 'connecting') return true;
    return await new Promise<boolean>((resolve) => {
      const timer = this.o.clock.setTimer(timeoutMs, () => { off(); resolve(false); });
      const off = this.channel.events.once('disconnected', () => { timer.cancel(); resolve(true); });
    });
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
