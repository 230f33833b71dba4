// The one mapping from a guest's M-channel to typed GuestEvents, shared by every transport (the
// virtio-serial VmSession, the xenstore sessions): incoming messages become report / heartbeat /
// hello events, channel trouble becomes session events. `vm` comes from the transport (the
// socket or the xenstore path the guest talks on), never from the message.
import type { Clock } from '../../domain/clock.js';
import type { Channel } from '../../mchannel/channel.js';
import type { TypedEvents } from '../../mchannel/events.js';
import type { GuestEvents, SlaReport } from './types.js';

/** Forwards gap / reset / invalid as session events; returns the functions that stop it. */
export function forwardChannelTrouble(channel: Channel, vm: string, ev: TypedEvents<GuestEvents>): (() => void)[] {
  return [
    channel.events.on('gap', (g) => ev.emit('session', { vm, event: 'gap', detail: { direction: g.direction, fromSeq: g.fromSeq, toSeq: g.toSeq } })),
    channel.events.on('reset', (r) => ev.emit('session', { vm, event: 'reset', detail: { ...r } })),
    channel.events.on('invalid', (i) => ev.emit('session', { vm, event: 'invalid', detail: { kind: i.kind, seq: i.seq, code: i.error.code } })),
  ];
}

/** Delivers the channel's incoming messages as typed events until it closes (bodies were
 *  checked by the channel's validator). Resolves, never rejects: errors surface as channel events. */
export async function pumpGuestMessages(channel: Channel, vm: string, ev: TypedEvents<GuestEvents>, clock: Clock): Promise<void> {
  try {
    for await (const m of channel) {
      const meta = { vm, seq: m.seq, stale: m.stale, receivedAt: clock.now() };
      const body = (m.body ?? {}) as Record<string, unknown>;
      if (m.kind === 'sla.report') ev.emit('report', { ...meta, report: body as unknown as SlaReport });
      else if (m.kind === 'agent.heartbeat') ev.emit('heartbeat', { ...meta, body });
      else if (m.kind === 'agent.hello') ev.emit('hello', { ...meta, body });
    }
  } catch {
    /* the channel closed with an error: reported through its events */
  }
}

/** Resolves true once the channel's current connection is gone (at once when it has none), or
 *  false after timeoutMs: on migration the source hands a session over only after its last read. */
export async function whenChannelDisconnected(channel: Channel | undefined, clock: Clock, timeoutMs: number): Promise<boolean> {
  if (channel?.state !== 'connected') return true;
  return await new Promise<boolean>((resolve) => {
    const timer = clock.setTimer(timeoutMs, () => { off(); resolve(false); });
    const off = channel.events.once('disconnected', () => { timer.cancel(); resolve(true); });
  });
}
