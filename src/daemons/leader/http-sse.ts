// Server-sent events for GET /api/events: every LeaderApi event (decision, migration, host,
// power, role) goes to every connected client as `event: <name>\ndata: <json>\n\n`, with a
// keep-alive comment every keepAliveMs. Each client has a bounded queue of frames its socket has
// not taken yet: a client that falls more than maxQueue frames (or maxQueueBytes) behind is
// dropped (its response ended and counted), never buffered without bound. At most maxClients
// streams at once; more get 503.
import type { ServerResponse } from 'node:http';
import type { LeaderApi, LeaderEvents } from './api.js';

export const SSE_EVENTS = ['decision', 'migration', 'host', 'power', 'role'] as const satisfies readonly (keyof LeaderEvents)[];

export interface SseOptions {
  /** Keep-alive comment period, ms (default 15 000). */
  readonly keepAliveMs?: number;
  /** Frames a client may have waiting before it is dropped (default 512). */
  readonly maxQueue?: number;
  /** Bytes a client may have waiting before it is dropped (default 4 MiB). */
  readonly maxQueueBytes?: number;
  /** Streams at once (default 64). */
  readonly maxClients?: number;
}

export interface SseCounters {
  /** Clients dropped for falling behind. */
  dropped: number;
  /** Frames written (or queued) to clients. */
  sent: number;
  /** Streams refused because maxClients were open. */
  refused: number;
  /** Events that could not be turned into JSON (skipped). */
  unserialisable: number;
}

interface Client {
  readonly res: ServerResponse;
  /** Frames the socket has not accepted yet (written once 'drain' fires). */
  readonly queue: string[];
  queuedBytes: number;
  blocked: boolean;
}

export class SseHub {
  readonly counters: SseCounters = { dropped: 0, sent: 0, refused: 0, unserialisable: 0 };
  private readonly clients = new Set<Client>();
  private readonly keepAlive: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  private readonly maxQueue: number;
  private readonly maxQueueBytes: number;
  readonly maxClients: number;

  constructor(api: LeaderApi, opts: SseOptions = {}, private readonly onDrop: (why: string) => void = () => {}) {
    this.maxQueue = opts.maxQueue ?? 512;
    this.maxQueueBytes = opts.maxQueueBytes ?? 4 << 20;
    this.maxClients = opts.maxClients ?? 64;
    const handlers = SSE_EVENTS.map((name) => {
      // A listener must never throw into the leader's emit: an event that does not serialise is
      // counted and skipped.
      const h = (data: unknown): void => {
        // Nobody listens (the usual case): no JSON, no frame.
        if (this.clients.size === 0) return;
        let json: string;
        try {
          json = JSON.stringify(data);
        } catch {
          this.counters.unserialisable++;
          return;
        }
        this.broadcast(`event: ${name}\ndata: ${json}\n\n`);
      };
      api.events.on(name, h);
      return [name, h] as const;
    });
    this.unsubscribe = () => { for (const [name, h] of handlers) api.events.off(name, h); };
    this.keepAlive = setInterval(() => this.broadcast(': keep-alive\n\n'), opts.keepAliveMs ?? 15_000);
    this.keepAlive.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Takes over `res` as an event stream; false (nothing written) when the hub is full. */
  accept(res: ServerResponse): boolean {
    if (this.clients.size >= this.maxClients) {
      this.counters.refused++;
      return false;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const c: Client = { res, queue: [], queuedBytes: 0, blocked: false };
    this.clients.add(c);
    res.on('close', () => this.clients.delete(c));
    res.on('drain', () => this.flush(c));
    this.write(c, 'retry: 2000\n: connected\n\n');
    return true;
  }

  /** Ends every stream and stops listening to the leader. */
  close(): void {
    clearInterval(this.keepAlive);
    this.unsubscribe();
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }

  private broadcast(frame: string): void {
    for (const c of this.clients) this.write(c, frame);
  }

  private write(c: Client, frame: string): void {
    this.counters.sent++;
    if (c.blocked) {
      c.queue.push(frame);
      c.queuedBytes += frame.length;
      if (c.queue.length > this.maxQueue || c.queuedBytes > this.maxQueueBytes) this.drop(c);
      return;
    }
    if (!c.res.write(frame)) c.blocked = true;
  }

  private flush(c: Client): void {
    c.blocked = false;
    while (c.queue.length > 0 && !c.blocked) {
      const frame = c.queue.shift() as string;
      c.queuedBytes -= frame.length;
      if (!c.res.write(frame)) c.blocked = true;
    }
  }

  private drop(c: Client): void {
    this.clients.delete(c);
    this.counters.dropped++;
    c.queue.length = 0;
    this.onDrop(`event client fell more than ${this.maxQueue} events / ${this.maxQueueBytes} bytes behind`);
    // A client that does not read would never take a graceful end: cut the socket.
    c.res.destroy();
  }
}
