// The M-channel library's public API (docs/mchannel.md). Import from here, not from the files.
export type { Connection, Connector, Listener, PeerIdentity } from './types.js';
export { Channel, type ChannelEvents, type ChannelState, type RequestContext, type RequestHandler } from './channel.js';
export { ChannelServer, type ChannelServerEvents, type ChannelServerOptions, type ServerRefusals } from './server.js';
export type { ChannelLogger, ChannelOptions } from './options.js';
export { realClock } from './options.js';
export type { Incoming } from './inbox.js';
export { BAD_INPUT_COUNTERS, newChannelCounters, type ChannelCounters } from './counters.js';
export type { GapInfo } from './session.js';
export { parseSessionState, sessionStateSchema, type SessionState } from './state.js';
export { acceptAnything, type Checked, type MessageValidator } from './validator.js';
export { DEFAULT_MAX_DEPTH, DEFAULT_MAX_FRAME_BYTES, FrameDecoder, encodeFrame, type BadFrameKind, type DecoderCounters, type DecoderOptions } from './framing.js';
export { DEFAULT_REPLAY_LIMITS, type ReplayLimits } from './replay.js';
export { PROTOCOL_VERSION, envelopeSchema, parseFrame, type Frame, type HelloFrame, type MsgFrame } from './wire.js';
export { memoryNetwork, memoryPair, type MemoryNetwork } from './transports/memory.js';
export { unixConnector, unixListener, type UnixListenerOptions } from './transports/unix.js';
export { tlsConnector, tlsListener, type TlsConnectorOptions, type TlsListener, type TlsListenerOptions, type TlsMaterial } from './transports/tls.js';
export { chardevConnector, type ChardevOptions } from './transports/chardev.js';
export { registerChannelMetrics, type CountersSource } from './metrics.js';
