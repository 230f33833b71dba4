// A host daemon's M-channel to the simulated world (src/demo/world-server.ts): typed requests
// that name this host, and the world's VM events and migration progress for it. The channel
// reconnects by itself; after every (re)connection the client subscribes again, so events keep
// coming after a world restart. Errors the world answers with keep their codes (VM_NOT_FOUND,
// OUT_OF_BOUNDS, MIGRATION_ABORTED, ...); a world that cannot be reached is UNAVAILABLE.
import type { Clock } from '../../domain/clock.js';
import { ErrorCodes, isVmanageError, VmanageError } from '../../domain/errors.js';
import { Channel } from '../../mchannel/channel.js';
import { TypedEvents } from '../../mchannel/events.js';
import { unixConnector } from '../../mchannel/transports/unix.js';
import { createRegistry } from '../../protocol/registry.js';
import { simFamily, type WorldEvent, type WorldProgress } from '../../protocol/sim.js';

export interface WorldClientEvents {
  event: WorldEvent;
  progress: WorldProgress;
}

/** `sim:///HOST?world=/abs/path/world.sock` -> its parts; INVALID_INPUT with what was expected. */
export function parseSimUri(uri: string): { host: string; world: string } {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    throw new VmanageError(ErrorCodes.InvalidInput, `hypervisor uri ${JSON.stringify(uri.slice(0, 200))}: expected sim:///HOST?world=/path/to/world.sock`, { uri });
  }
  const host = decodeURIComponent(u.pathname.replace(/^\//, ''));
  const world = u.searchParams.get('world') ?? '';
  if (u.protocol !== 'sim:' || !/^[A-Za-z0-9._-]{1,64}$/.test(host) || !world.startsWith('/')) {
    throw new VmanageError(ErrorCodes.InvalidInput, `hypervisor uri ${JSON.stringify(uri.slice(0, 200))}: expected sim:///HOST?world=/path/to/world.sock (HOST: 1-64 of A-Z a-z 0-9 . _ -)`, { uri });
  }
  return { host, world };
}

export class WorldClient {
  readonly events = new TypedEvents<WorldClientEvents>();
  readonly channel: Channel;
  private closed = false;

  constructor(readonly socketPath: string, readonly host: string, clock: Clock, private readonly timeoutMs = 5000) {
    this.channel = Channel.client(unixConnector(socketPath, { label: 'world' }), {
      role: 'host', identity: host, validator: createRegistry(simFamily), clock, whenReplayFull: 'evict', closeFlushMs: 100,
    });
    this.channel.events.on('connected', () => {
      this.channel.request('world.subscribe', { host }, { timeoutMs: this.timeoutMs }).catch(() => { /* the next connection subscribes again */ });
    });
    void this.consume();
  }

  private async consume(): Promise<void> {
    try {
      for await (const m of this.channel) {
        if (m.kind === 'world.event') this.events.emit('event', m.body as WorldEvent);
        else if (m.kind === 'world.progress') this.events.emit('progress', m.body as WorldProgress);
      }
    } catch {
      /* the channel closed */
    }
  }

  /** A request for this host; rejects with the world's error code, or UNAVAILABLE. */
  async request<T>(kind: string, body: Record<string, unknown> = {}, timeoutMs = this.timeoutMs): Promise<T> {
    if (this.closed) throw new VmanageError(ErrorCodes.Unavailable, `world client of ${this.host} is closed`, { host: this.host });
    try {
      return await this.channel.request(kind, { host: this.host, ...body }, { timeoutMs }) as T;
    } catch (err) {
      if (isVmanageError(err) && err.code !== ErrorCodes.RequestTimeout && err.code !== ErrorCodes.ChannelClosed) throw err;
      throw new VmanageError(ErrorCodes.Unavailable, `simulated world at ${this.socketPath} did not answer ${kind}: ${err instanceof Error ? err.message : String(err)}`, { kind }, { cause: err });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.channel.close();
  }
}
