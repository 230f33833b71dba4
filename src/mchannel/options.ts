// Channel options and their defaults (units in the names: ms, bytes).
import { randomUUID } from 'node:crypto';
import type { Clock, Random } from '../domain/clock.js';
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_FRAME_BYTES } from './framing.js';
import { DEFAULT_REPLAY_LIMITS, type ReplayLimits } from './replay.js';
import type { SessionState } from './state.js';
import type { MessageValidator } from './validator.js';

/** pino-compatible subset. */
export interface ChannelLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface ChannelOptions {
  /** Our role, sent in the handshake: 'agent', 'host', 'hook', 'leader', ... */
  role: string;
  /** Our claimed identity (the peer trusts its transport instead). Default: role. */
  identity?: string;
  /** Validates bodies at the boundary: a ProtocolRegistry from src/protocol. */
  validator: MessageValidator;
  clock?: Clock;
  /** Randomness for reconnect jitter. */
  random?: Random;
  /** Makes session ids and incarnations (default: random UUIDs). */
  newId?: () => string;
  /** Resume this exported session instead of starting a new one. */
  state?: SessionState | undefined;
  /** Session id of a new session (default: newId()). */
  sessionId?: string;
  /** Attached (server) side: accept a hello with another session id as a new session (the peer
   *  restarted) instead of refusing it. Default true for attached channels, false for clients. */
  acceptNewSession?: boolean;
  maxFrameBytes?: number;
  maxDepth?: number;
  /** Consecutive bad frames before the connection is closed (default 16). */
  errorBudget?: number;
  heartbeatMs?: number;
  deadAfterMs?: number;
  /** A connection whose handshake has not completed is dropped after deadAfterMs; once the
   *  peer has answered in this session (here, or before the state was exported), each one that
   *  ends unanswered doubles that wait for the next, up to this (ms, default deadAfterMs: no
   *  growth). A slow peer (a guest under load) then gets time to answer instead of being cut
   *  off, its answer discarded, at the same deadline again and again; a peer never heard of
   *  (still starting) is retried at the base rate. */
  handshakeTimeoutMaxMs?: number;
  replay?: Partial<ReplayLimits>;
  /** 'wait': send() waits while the replay buffer is full (default). 'evict': the oldest
   *  unacknowledged message is dropped; a peer that needed it gets REPLAY_BUFFER_EXCEEDED. */
  whenReplayFull?: 'wait' | 'evict';
  /** Notifications held for the application before reading pauses (default 1024). */
  inboxMax?: number;
  /** Request handlers running at once before reading pauses (default 64). */
  maxConcurrentRequests?: number;
  /** An ack is sent after this many unacknowledged incoming messages (default 32)... */
  ackEvery?: number;
  /** ...or this long after the first one (ms, default 5), whichever comes first. A heartbeat
   *  carries the ack too, so a delay longer than heartbeatMs never holds an ack past one. A busy
   *  server with many peers (the leader) coalesces its acks with a longer delay. */
  ackDelayMs?: number;
  /** Unwritten bytes a stream may hold before the peer counts as not reading. */
  maxWriteBufferBytes?: number;
  /** Reconnect backoff (client side), ms: doubles from min to max, with full jitter. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** One connection attempt may take this long (ms, default 10 000). */
  connectTimeoutMs?: number;
  /** close() waits this long for the peer to acknowledge what was sent (ms, default 2000). */
  closeFlushMs?: number;
  logger?: ChannelLogger;
}

export type ResolvedOptions = Required<Omit<ChannelOptions, 'state' | 'sessionId' | 'replay' | 'logger' | 'acceptNewSession'>> & {
  replay: ReplayLimits;
  logger: ChannelLogger | undefined;
};

/** The real clock (mchannel may not import adapters). Unlike adapters/clock.ts its timers keep
 *  the process alive: an open channel, even one waiting to reconnect, is work in progress. A
 *  closed channel cancels all its timers. */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    const h = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(h) };
  },
};
const realRandom: Random = { next: () => Math.random() };

const noop = (): void => {};
export const silentLogger: ChannelLogger = { debug: noop, info: noop, warn: noop };

export function resolveOptions(o: ChannelOptions): ResolvedOptions {
  const replay = { ...DEFAULT_REPLAY_LIMITS, ...o.replay };
  return {
    role: o.role,
    identity: o.identity ?? o.role,
    validator: o.validator,
    clock: o.clock ?? realClock,
    random: o.random ?? realRandom,
    newId: o.newId ?? randomUUID,
    maxFrameBytes: o.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    maxDepth: o.maxDepth ?? DEFAULT_MAX_DEPTH,
    errorBudget: o.errorBudget ?? 16,
    heartbeatMs: o.heartbeatMs ?? 5000,
    deadAfterMs: o.deadAfterMs ?? 15_000,
    handshakeTimeoutMaxMs: Math.max(o.handshakeTimeoutMaxMs ?? 0, o.deadAfterMs ?? 15_000),
    replay,
    whenReplayFull: o.whenReplayFull ?? 'wait',
    inboxMax: o.inboxMax ?? 1024,
    maxConcurrentRequests: o.maxConcurrentRequests ?? 64,
    ackEvery: o.ackEvery ?? 32,
    ackDelayMs: o.ackDelayMs ?? 5,
    maxWriteBufferBytes: o.maxWriteBufferBytes ?? 2 * replay.maxBytes + 256 * 1024,
    backoffMinMs: o.backoffMinMs ?? 50,
    backoffMaxMs: o.backoffMaxMs ?? 5000,
    connectTimeoutMs: o.connectTimeoutMs ?? 10_000,
    closeFlushMs: o.closeFlushMs ?? 2000,
    logger: o.logger,
  };
}
