// The xenstore transport for M-channels (docs/xen.md). Per VM, under its domain path
// /local/domain/<domid>/vmanage:
//   connect      generation (random) the guest writes to open connection <gen>
//   accept       the generation dom0 accepted (written by dom0)
//   c<gen>/g2h   ring guest -> host;  c<gen>/h2g  ring host -> guest   (see xenstore-ring.ts)
// The guest side (Connector) uses relative paths, so it never needs to know its domid. The dom0
// side (Listener) serves a set of domids; the peer's identity is the VM of the PATH it talks on
// (the toolstack-written /local/domain/<domid>/vm, else "domid:<N>"), never what it writes.
import { randomInt } from 'node:crypto';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import type { XenstoreClient } from '../../adapters/xen/client.js';
import { DEFAULT_XENBUS_DEVICE, openXenbus } from '../../adapters/xen/connect.js';
import type { Connection, Connector, Listener, PeerIdentity } from '../types.js';
import { XenstoreRingStream, newRingStats, type RingOptions, type RingStats } from './xenstore-ring.js';

export const VMANAGE_DIR = 'vmanage';
const MAX_GEN = 2 ** 31;
let acceptSeq = 0;

/**
 * Runs fn serially: a trigger while it runs schedules exactly one more run, so a peer that fires
 * watch events faster than we handle them costs one pending flag, not a growing queue.
 */
function coalesced(fn: () => Promise<void>, onError: (err: unknown) => void): () => void {
  let running = false;
  let again = false;
  const run = (): void => {
    running = true;
    again = false;
    fn().catch(onError).finally(() => {
      running = false;
      if (again) run();
    });
  };
  return () => {
    if (running) again = true;
    else run();
  };
}

/**
 * A fresh generation, unlike prev: random rather than prev + 1, so that a generation is never
 * reused (a reused one could meet a dying ring's last writes, or equal the one the host already
 * has when the connect node was corrupted or lost).
 */
function newGeneration(prev: number): number {
  for (;;) {
    const gen = randomInt(1, MAX_GEN);
    if (gen !== prev) return gen;
  }
}

function parseGen(raw: Buffer | undefined): number | undefined {
  const s = raw?.toString('latin1') ?? '';
  if (!/^\d{1,10}$/.test(s)) return undefined;
  const n = Number(s);
  return n >= 1 && n < MAX_GEN ? n : undefined;
}

export interface XenstoreConnectorOptions extends RingOptions {
  /** How long to wait for dom0 to accept a connection, in ms (default 5000). */
  acceptTimeoutMs?: number;
}

/**
 * Guest side: each connect() opens a new generation and waits until dom0 accepts it. Give it a
 * client, or a function that opens one (then a closed client is reopened on the next connect,
 * e.g. after the xenbus device went away and came back).
 */
export class XenstoreConnector implements Connector {
  readonly kind = 'xenstore';
  readonly target = `${VMANAGE_DIR} (relative to this guest's domain path)`;
  readonly stats: RingStats = newRingStats();
  private current: XenstoreClient | undefined;
  private readonly open: (() => Promise<XenstoreClient>) | undefined;

  constructor(source: XenstoreClient | (() => Promise<XenstoreClient>), private readonly opts: XenstoreConnectorOptions = {}) {
    if (typeof source === 'function') this.open = source;
    else this.current = source;
  }

  async connect(signal?: AbortSignal): Promise<Connection> {
    const xs = await this.client();
    const base = VMANAGE_DIR;
    let gen = 0;
    await xs.transaction(async (tx) => {
      const prev = parseGen(await xs.tryRead(`${base}/connect`, tx)) ?? 0;
      gen = newGeneration(prev);
      if (prev > 0) await xs.rm(`${base}/c${prev}`, tx);
      for (const dir of ['g2h', 'h2g']) {
        await xs.write(`${base}/c${gen}/${dir}/prod`, '0', tx);
        await xs.write(`${base}/c${gen}/${dir}/cons`, '0', tx);
      }
      await xs.write(`${base}/connect`, String(gen), tx);
    }).catch((err: unknown) => {
      throw new VmanageError(ErrorCodes.Unavailable, `xenstore channel: cannot open a connection under ${base} (is the host serving this VM?): ${(err as Error).message}`, {}, { cause: err });
    });
    await this.awaitAccept(xs, base, gen, signal);
    const stream = new XenstoreRingStream(xs, `${base}/c${gen}`, 'g2h', 'h2g', this.opts, this.stats);
    await stream.start();
    const peer: PeerIdentity = { transport: 'xenstore', id: 'dom0', details: { generation: gen } };
    return { stream, peer };
  }

  private async client(): Promise<XenstoreClient> {
    if (this.current && !this.current.closed) return this.current;
    if (!this.open) throw new VmanageError(ErrorCodes.Unavailable, `xenstore channel: the xenstore connection ${this.current?.where ?? ''} is closed`, {});
    this.current = await this.open();
    return this.current;
  }

  private async awaitAccept(xs: XenstoreClient, base: string, gen: number, signal?: AbortSignal): Promise<void> {
    const token = `vmanage-accept-${gen}-${++acceptSeq}`;
    const path = `${base}/accept`;
    const timeoutMs = this.opts.acceptTimeoutMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => reject(new VmanageError(ErrorCodes.Timeout, `xenstore channel: dom0 did not accept connection ${gen} within ${timeoutMs} ms`, { gen, timeoutMs })), timeoutMs);
        onAbort = () => reject(new VmanageError(ErrorCodes.ChannelClosed, 'xenstore channel: connect aborted', { gen }));
        if (signal?.aborted) onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        const check = (): void => {
          xs.tryRead(path).then((v) => { if (parseGen(v) === gen) resolve(); }, reject);
        };
        xs.watch(path, token, check).catch(reject);
      });
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      await xs.unwatch(path, token).catch(() => undefined);
    }
  }
}

/** The guest agent's connector: opens /dev/xen/xenbus (or `device`), and reopens it when closed. */
export function xenbusConnector(device = DEFAULT_XENBUS_DEVICE, opts: XenstoreConnectorOptions = {}): XenstoreConnector {
  return new XenstoreConnector(() => openXenbus(device), opts);
}

export interface XenstoreListenerOptions extends RingOptions {
  /** The VM identity for a domid; default: the UUID in /local/domain/<domid>/vm, else "domid:<N>". */
  identify?: (domid: number) => Promise<string>;
  /** Called when a guest breaks the protocol or a connection fails (for logs); counted anyway. */
  onError?: (domid: number, err: Error) => void;
  /** Reconnect backoff after the xenstore connection is lost (only with an opener), ms. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

interface Served {
  readonly domid: number;
  readonly token: string;
  gen: number;
  stream?: XenstoreRingStream;
}

export interface XenstoreListenerStats extends RingStats {
  connections: number;
  /** connect values that were not a valid generation. */
  badConnects: number;
  /** Times the xenstore connection was lost and opened again. */
  reconnects: number;
}

/**
 * dom0 side: serves the guests it is told about (serve/unserve, e.g. from libvirt's VM list, or
 * followDomains). Give it a client, or a function that opens one: then a lost xenstore connection
 * is opened again with backoff and every guest is served again (each reconnects on a fresh ring).
 */
export class XenstoreListener implements Listener {
  readonly kind = 'xenstore';
  readonly address: string;
  readonly stats: XenstoreListenerStats = { ...newRingStats(), connections: 0, badConnects: 0, reconnects: 0 };
  private readonly served = new Map<number, Served>();
  private handler: ((conn: Connection) => void) | undefined;
  private closing = false;
  private following = false;
  private readonly domainWatches: [string, string][] = [];
  private xs: XenstoreClient;
  private reconnectTimer: NodeJS.Timeout | undefined;

  /** A listener on an open client; with `open`, a lost connection is replaced by open(). */
  constructor(xs: XenstoreClient, private readonly opts: XenstoreListenerOptions = {}, private readonly open?: () => Promise<XenstoreClient>) {
    this.xs = xs;
    this.address = `xenstore:${xs.where}`;
    this.watchClose();
  }

  /** A listener that opens its client with `open` and opens it again whenever it is lost. */
  static async reconnecting(open: () => Promise<XenstoreClient>, opts: XenstoreListenerOptions = {}): Promise<XenstoreListener> {
    return new XenstoreListener(await open(), opts, open);
  }

  onConnection(handler: (conn: Connection) => void): void {
    this.handler = handler;
  }

  /** Prepares /local/domain/<domid>/vmanage (owned by dom0, read-write for the guest) and watches it. */
  async serve(domid: number): Promise<void> {
    if (!Number.isInteger(domid) || domid <= 0 || domid > 0x7fef) throw new VmanageError(ErrorCodes.InvalidInput, `xenstore listener: ${domid} is not a guest domid`, { domid });
    if (this.served.has(domid) || this.closing) return;
    const s: Served = { domid, token: `vmanage-listen-${domid}`, gen: 0 };
    this.served.set(domid, s);
    await this.attach(s);
  }

  private async attach(s: Served): Promise<void> {
    const xs = this.xs;
    const base = `${await xs.getDomainPath(s.domid)}/${VMANAGE_DIR}`;
    await xs.mkdir(base);
    await xs.setPerms(base, ['n0', `b${s.domid}`]);
    await xs.watch(`${base}/connect`, s.token, coalesced(() => this.onConnect(s, base), (err) => this.report(s.domid, err)));
  }

  private watchClose(): void {
    const xs = this.xs;
    xs.onClose(() => {
      for (const s of this.served.values()) {
        s.stream?.destroy();
        s.stream = undefined;
        s.gen = 0; // our rings died with the connection: treat what we accepted as an earlier instance's
      }
      if (this.open && !this.closing) this.scheduleReconnect(this.opts.reconnectMinMs ?? 100);
    });
  }

  private scheduleReconnect(delayMs: number): void {
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.reconnect().catch((err: unknown) => {
        this.report(0, err);
        if (!this.closing) this.scheduleReconnect(Math.min(delayMs * 2, this.opts.reconnectMaxMs ?? 5000));
      });
    }, delayMs);
  }

  private async reconnect(): Promise<void> {
    const xs = await this.open!();
    if (this.closing) { xs.close(); return; }
    this.xs = xs;
    this.stats.reconnects++;
    this.watchClose();
    this.domainWatches.splice(0);
    for (const s of this.served.values()) await this.attach(s);
    if (this.following) await this.followDomains();
  }

  /** Stops serving a guest (e.g. it was destroyed or migrated away) and closes its connection. */
  async unserve(domid: number): Promise<void> {
    const s = this.served.get(domid);
    if (!s) return;
    this.served.delete(domid);
    s.stream?.destroy();
    const base = `/local/domain/${domid}/${VMANAGE_DIR}`;
    await this.xs.unwatch(`${base}/connect`, s.token).catch(() => undefined);
  }

  /**
   * Serves every guest domain xenstored knows, now and as they come and go (the @introduceDomain
   * and @releaseDomain special watches). Use serve()/unserve() instead when the VM list comes
   * from libvirt.
   */
  async followDomains(): Promise<void> {
    this.following = true;
    const sync = coalesced(() => this.syncDomains(), (err) => this.report(0, err));
    for (const special of ['@introduceDomain', '@releaseDomain']) {
      const token = `vmanage-listen-${special}`;
      this.domainWatches.push([special, token]);
      await this.xs.watch(special, token, sync);
    }
  }

  /** Stops serving every guest; a listener that opened its own client (reconnecting) closes it too. */
  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.reconnectTimer);
    for (const [path, token] of this.domainWatches.splice(0)) await this.xs.unwatch(path, token).catch(() => undefined);
    await Promise.all([...this.served.keys()].map((d) => this.unserve(d)));
    if (this.open) this.xs.close();
  }

  private async syncDomains(): Promise<void> {
    if (this.closing) return;
    const names = await this.xs.directory('/local/domain').catch(() => [] as string[]);
    const present = new Set(names.filter((n) => /^\d{1,5}$/.test(n)).map(Number).filter((d) => d > 0 && d <= 0x7fef));
    for (const d of present) if (!this.served.has(d)) await this.serve(d);
    for (const d of [...this.served.keys()]) if (!present.has(d)) await this.unserve(d);
  }

  private async onConnect(s: Served, base: string): Promise<void> {
    const raw = await this.xs.tryRead(`${base}/connect`);
    if (raw === undefined || !this.served.has(s.domid)) return; // initial fire before any guest connected
    const gen = parseGen(raw);
    if (gen === undefined) {
      this.stats.badConnects++;
      throw new VmanageError(ErrorCodes.ProtocolViolation, `guest ${s.domid} wrote an invalid connect generation`, { domid: s.domid, value: raw.toString('latin1').slice(0, 40) });
    }
    if (gen === s.gen) return;
    if (s.gen === 0 && parseGen(await this.xs.tryRead(`${base}/accept`)) === gen) {
      // Accepted by an earlier host daemon (we restarted): its ring is mid-stream and its session
      // state is gone with it. Remove the ring so that the guest reconnects with a new generation.
      s.gen = gen;
      await this.xs.rm(`${base}/c${gen}`);
      return;
    }
    s.stream?.destroy();
    if (s.gen > 0) await this.xs.rm(`${base}/c${s.gen}`).catch(() => undefined);
    s.gen = gen;
    const stream = new XenstoreRingStream(this.xs, `${base}/c${gen}`, 'h2g', 'g2h', this.opts, this.stats);
    stream.on('error', (err) => this.report(s.domid, err));
    s.stream = stream;
    await stream.start();
    const peer: PeerIdentity = { transport: 'xenstore', id: await this.identify(s.domid), details: { domid: s.domid, generation: gen, path: base } };
    await this.xs.write(`${base}/accept`, String(gen));
    this.stats.connections++;
    this.handler?.({ stream, peer });
  }

  private async identify(domid: number): Promise<string> {
    if (this.opts.identify) return await this.opts.identify(domid);
    const vm = (await this.xs.tryRead(`/local/domain/${domid}/vm`))?.toString('latin1') ?? '';
    const uuid = /^\/vm\/([0-9a-fA-F-]{36})$/.exec(vm)?.[1];
    return uuid ?? `domid:${domid}`;
  }

  private report(domid: number, err: unknown): void {
    this.opts.onError?.(domid, err instanceof Error ? err : new Error(String(err)));
  }
}
