// The Channel's events and request-handler types (channel.ts).
import type { VmanageError } from '../domain/errors.js';
import type { GapInfo } from './session.js';
import type { PeerIdentity } from './types.js';

export type ChannelState = 'connecting' | 'connected' | 'disconnected' | 'closed';

export interface ChannelEvents {
  /** A handshake completed; resumed is true when it continued an existing session. */
  connected: { peer: PeerIdentity; role: string; claimedId: string; resumed: boolean };
  /** Also emitted (after connected) when a handshake continued an existing session. */
  resumed: { peer: PeerIdentity; role: string; claimedId: string; resumed: true };
  disconnected: { error: VmanageError | undefined };
  /** Messages lost for good (REPLAY_BUFFER_EXCEEDED), with their count: never a silent gap. */
  gap: GapInfo;
  /** The peer started over (new session or lost send state). */
  reset: { reason: string; lostOutgoing: number };
  /** An incoming body failed validation or had an unknown kind (counted; channel stays up). */
  invalid: { kind: string; seq: number; error: VmanageError };
  /** A frame was skipped (counted); too many in a row close the connection. */
  badFrame: { detail: string };
  closed: { error: VmanageError | undefined };
}

export interface RequestContext { readonly peer: PeerIdentity | undefined; readonly seq: number; readonly stale: boolean }
export type RequestHandler = (body: unknown, ctx: RequestContext) => unknown;
