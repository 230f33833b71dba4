// How the guest channel manager reaches a VM's guest: the strategy it is given. The manager owns
// the lifecycle (inventory, migration hand-over, restart states); a transport only knows where a
// VM's channel is and how to run one session on it. virtio-serial (KVM): we connect to QEMU's
// socket (VmSession). xenstore (Xen dom0): the guest connects, dom0 accepts (xen-guests.ts).
import type { Clock } from '../../domain/clock.js';
import type { Hypervisor } from '../../domain/ports/hypervisor.js';
import type { TypedEvents } from '../../mchannel/events.js';
import type { ChannelOptions } from '../../mchannel/options.js';
import type { SessionState } from '../../mchannel/state.js';
import { unixConnector } from '../../mchannel/transports/unix.js';
import type { Connector } from '../../mchannel/types.js';
import type { GuestEvents } from './types.js';
import { VmSession } from './vm-session.js';

/** One VM's session on this host, whatever the transport. */
export interface GuestSession {
  readonly vm: string;
  /** The M-channel session id, once there is a session (a xenstore guest opens it). */
  readonly sessionId: string | undefined;
  readonly connected: boolean;
  /** Resolves once the guest's connection is gone, true, or after timeoutMs, false. */
  whenDisconnected(timeoutMs: number): Promise<boolean>;
  /** Stops the session without ending it for the guest; its state, or undefined when the guest
   *  never opened one (nothing to hand over). */
  detach(): Promise<SessionState | undefined>;
  /** Drops the session (the VM is gone). */
  drop(): Promise<void>;
}

export interface GuestTransport {
  readonly kind: string;
  /** Where vm's guest channel is (for logs), or undefined when it has none (no session). */
  locate(vm: string): Promise<string | undefined>;
  /** Runs vm's session at `where`, resuming `state` if given; its messages go to `events`. */
  open(vm: string, where: string, state: SessionState | undefined, events: TypedEvents<GuestEvents>): GuestSession;
}

export interface VirtioSerialOptions {
  readonly hypervisor: Hypervisor;
  readonly channel: Omit<ChannelOptions, 'state' | 'identity'>;
  readonly clock: Clock;
  readonly connectorFor?: (vm: string, socketPath: string) => Connector;
}

/** KVM: the VM's org.vmanage.agent.0 virtio-serial socket, which QEMU listens on. */
export function virtioSerialTransport(o: VirtioSerialOptions): GuestTransport {
  return {
    kind: 'virtio-serial',
    locate: (vm) => o.hypervisor.channelSocketPath(vm),
    open: (vm, socketPath, state, events) => new VmSession({
      vm, socketPath, connector: o.connectorFor?.(vm, socketPath) ?? unixConnector(socketPath, { label: vm }),
      channel: o.channel, clock: o.clock, events, ...(state ? { state } : {}),
    }),
  };
}
