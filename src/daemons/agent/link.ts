// The agent's M-channel (guest role) over the virtio-serial port. The host chooses the session:
// the agent never sends the first hello (a hello written while no host is connected would be
// held by QEMU and reach some later host as a stale, conflicting handshake); it answers the
// host's hello and adopts its session, so a host daemon that resumes a handed-over session after
// a live migration continues exactly where the previous host stopped. The port stays open across
// host reconnects; if the stream ends (device gone, peer dead) it is reopened with backoff.
// Outgoing messages are bounded: when the replay buffer is full the oldest is evicted and the
// host learns how many were lost (never unbounded memory in the guest). Until the first host
// handshake, messages wait in a bounded local queue instead of the session (adopting the host's
// session would void a stream started before it).
import { existsSync } from 'node:fs';
import { DEFAULT_XENBUS_DEVICE, openXenbus } from '../../adapters/xen/connect.js';
import { Channel } from '../../mchannel/channel.js';
import type { ChannelOptions } from '../../mchannel/options.js';
import { chardevConnector } from '../../mchannel/transports/chardev.js';
import { XenstoreConnector } from '../../mchannel/transports/xenstore.js';
import { createRegistry } from '../../protocol/registry.js';
import { guestFamily } from '../../protocol/guest.js';
import type { Connection, Connector } from '../../mchannel/types.js';
import type { GuestLink } from './agent.js';
import type { AgentConfig } from './config.js';
import type { Logger } from './log.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface AgentLink extends GuestLink {
  readonly channel: Channel;
}

/** Keeps the port attached to the channel: open, attach, and reopen when the stream ends. */
async function keepAttached(ch: Channel, connector: Connector, device: string, log: Logger): Promise<void> {
  let delay = 100;
  while (ch.state !== 'closed') {
    if (!existsSync(device)) {
      await sleep(delay);
      delay = Math.min(5000, delay * 2);
      continue;
    }
    try {
      const conn = await connector.connect();
      const ended = new Promise<void>((resolve) => conn.stream.once('close', () => resolve()));
      ch.attach(conn, { initiate: false });
      delay = 100;
      await ended;
      if ((ch.state as string) !== 'closed') log.info('channel stream ended: reopening the port', { device });
    } catch (err) {
      log.warn('cannot open the channel device', { device, err: (err as Error).message });
    }
    await sleep(delay);
    delay = Math.min(5000, delay * 2);
  }
}

/**
 * The agent's channel and link. Without a connector (virtio-serial) the host chooses the session
 * and attach() gives the channel the port's stream. With one (xenstore: the guest opens each
 * connection, dom0 accepts it) the agent is the client, chooses the session and reconnects.
 */
export function createAgentLink(cfg: Pick<AgentConfig, 'maxQueuedReports'>, log: Logger, connector?: Connector): AgentLink & { attach(conn: Connection): void } {
  const opts: ChannelOptions = {
    role: 'agent',
    identity: 'agent',
    // Bodies are checked against the guest protocol at the boundary (host.config from the host).
    validator: createRegistry(guestFamily),
    acceptNewSession: true,
    whenReplayFull: 'evict',
    replay: { maxCount: cfg.maxQueuedReports * 2, maxBytes: 512 * 1024 },
    inboxMax: 64,
    maxConcurrentRequests: 4,
    // The host daemon reconnects a guest it has not heard from for 6 s: speak every 2 s.
    heartbeatMs: 2000,
    deadAfterMs: 15_000,
  };
  const channel = connector ? Channel.client(connector, { ...opts, acceptNewSession: false }) : Channel.attached(opts);
  channel.events.on('connected', ({ resumed }) => log.info('host connected', { resumed, sessionId: channel.sessionId }));
  channel.events.on('reset', (r) => log.warn('session reset', { reason: r.reason, lostOutgoing: r.lostOutgoing }));
  channel.events.on('gap', (g) => log.warn('messages lost', { direction: g.direction, fromSeq: g.fromSeq, toSeq: g.toSeq }));
  const handlers: ((kind: string, body: unknown) => void)[] = [];
  const sessionHandlers: ((fresh: boolean) => void)[] = [];
  const early: { kind: string; body: Record<string, unknown> }[] = [];
  const maxEarly = cfg.maxQueuedReports * 2;
  let ready = false;
  const send = (kind: string, body: Record<string, unknown>): void => {
    if (!ready) {
      if (early.length >= maxEarly) early.shift();
      early.push({ kind, body });
      return;
    }
    channel.send(kind, body).catch((err: unknown) => log.debug('send failed', { kind, err: String(err) }));
  };
  let lastSession: string | undefined;
  channel.events.on('connected', () => {
    ready = true;
    // A session id we have not spoken in before: a new session (first host, or a host daemon
    // that started over without a handed-over state).
    if (channel.sessionId !== lastSession) for (const h of sessionHandlers) h(true);
    lastSession = channel.sessionId;
    for (const m of early.splice(0)) send(m.kind, m.body);
  });
  void (async () => {
    for await (const m of channel) for (const h of handlers) h(m.kind, m.body);
  })().catch((err: unknown) => log.warn('inbox ended', { err: String(err) }));
  return {
    channel,
    send,
    onMessage: (h) => void handlers.push(h),
    onSession: (h) => void sessionHandlers.push(h),
    close: () => channel.close(),
    attach: (conn) => channel.attach(conn, { initiate: false }),
  };
}

export async function openGuestLink(cfg: AgentConfig, log: Logger): Promise<AgentLink> {
  if (cfg.transport === 'xenstore') {
    // Xen: the M-channel over xenstore rings under this guest's domain path (/dev/xen/xenbus).
    return createAgentLink(cfg, log, new XenstoreConnector(() => openXenbus(DEFAULT_XENBUS_DEVICE)));
  }
  const link = createAgentLink(cfg, log);
  void keepAttached(link.channel, chardevConnector(cfg.device), cfg.device, log);
  return link;
}
