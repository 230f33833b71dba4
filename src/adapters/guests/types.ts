// What the guest channel manager tells the host daemon: typed events per VM. Bodies were
// validated at the channel boundary (the validator the manager was given); `vm` is the VM's
// UUID taken from the socket the guest talks on, never from the message.

import type { SlaReport } from '../../protocol/guest.js';

export type { SlaReport };

export interface GuestMessageMeta {
  readonly vm: string;
  /** M-channel sequence number of the message in the guest's stream. */
  readonly seq: number;
  /** True for lines QEMU held while no host was connected (they arrived before the handshake). */
  readonly stale: boolean;
  /** Host clock when delivered, ms since epoch. */
  readonly receivedAt: number;
}

export type SessionEventKind =
  | 'opened' | 'connected' | 'disconnected' | 'resumed-from-handover' | 'handover-timeout' | 'handed-off'
  | 'handover-failed' | 'closed' | 'gap' | 'reset' | 'invalid'
  /** Several connections in a row got no answer to our hello (the guest's agent or kernel is
   *  likely dead); said once until the guest answers again. */
  | 'unresponsive';

export interface GuestEvents {
  report: GuestMessageMeta & { readonly report: SlaReport };
  heartbeat: GuestMessageMeta & { readonly body: Readonly<Record<string, unknown>> };
  hello: GuestMessageMeta & { readonly body: Readonly<Record<string, unknown>> };
  session: { readonly vm: string; readonly event: SessionEventKind; readonly detail?: Readonly<Record<string, unknown>> };
}
