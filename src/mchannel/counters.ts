// Every kind of bad or notable input an M-channel sees has a counter. Counters are plain numbers
// on a plain object so a daemon can expose them (e.g. as prom-client gauges/counters labelled by
// channel) without this library depending on a metrics package.
import { newDecoderCounters, type DecoderCounters } from './framing.js';

export interface ChannelCounters extends DecoderCounters {
  /** Frames that parsed as JSON but are not a valid envelope (wire.ts). */
  badEnvelope: number;
  /** Connections closed because errorBudget bad frames came in a row. */
  budgetExhausted: number;
  /** Data messages already delivered (seq <= received): dropped. */
  duplicates: number;
  /** Data messages ahead of the next expected seq (only before a handshake): dropped. */
  outOfOrder: number;
  /** Messages delivered before the handshake on their connection (flagged stale). */
  stale: number;
  /** Data messages delivered to the application (notifications, requests and replies). */
  delivered: number;
  /** Data messages given to send()/request()/replies (first transmission). */
  sent: number;
  /** Data messages transmitted again after a reconnect. */
  resent: number;
  /** Bodies that failed their schema (request answered with INVALID_INPUT). */
  invalidBody: number;
  /** Messages of a kind the registry does not know. */
  unknownKind: number;
  /** Replies to no pending request. */
  unknownReply: number;
  requestTimeouts: number;
  /** Times the peer resumed from a point the replay buffer no longer held (either direction). */
  gaps: number;
  /** Incoming messages known lost (peer could not resend them). */
  lostIncoming: number;
  /** Outgoing messages known lost (peer wanted them, the buffer no longer held them). */
  lostOutgoing: number;
  /** Outgoing messages evicted from a full replay buffer (evict mode only). */
  evicted: number;
  handshakes: number;
  handshakeFailures: number;
  /** Connections dropped because the peer sent nothing for deadAfterMs. */
  peerDead: number;
  /** Connections dropped because the peer stopped reading and our write buffer passed its limit. */
  writeOverflow: number;
  /** Connection attempts (client side) and connections attached (server side). */
  connects: number;
  connectFailures: number;
}

export function newChannelCounters(): ChannelCounters {
  return {
    ...newDecoderCounters(),
    badEnvelope: 0, budgetExhausted: 0, duplicates: 0, outOfOrder: 0, stale: 0, delivered: 0, sent: 0,
    resent: 0, invalidBody: 0, unknownKind: 0, unknownReply: 0, requestTimeouts: 0, gaps: 0, lostIncoming: 0,
    lostOutgoing: 0, evicted: 0, handshakes: 0, handshakeFailures: 0, peerDead: 0, writeOverflow: 0,
    connects: 0, connectFailures: 0,
  };
}

/** Names of the counters that count bad input from the peer (for alerting). */
export const BAD_INPUT_COUNTERS = [
  'tooLong', 'invalidUtf8', 'invalidJson', 'tooDeep', 'truncated', 'badEnvelope', 'invalidBody', 'unknownKind', 'unknownReply',
] as const satisfies readonly (keyof ChannelCounters)[];
