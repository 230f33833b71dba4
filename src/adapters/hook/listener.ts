// The host daemon's end of the libvirt hooks: a unix-socket listener that takes one hook.event
// per connection, validates it (hook input is untrusted: anyone who can reach the socket can
// write to it), hands it to the daemon as a typed event, and answers allow/deny from the
// admission callback. Bad input is answered with a typed error where possible, counted, and
// never crashes the daemon or grows memory: frames are capped, connections are capped and idle
// connections are closed.
import { chmod, lstat, unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { FrameDecoder } from '../../mchannel/framing.js';
import { createRegistry, hookFamily } from '../../protocol/index.js';
import {
  MAX_HOOK_FRAME_BYTES, checkFrame, checkHookEventBody, encodeFrame, type HookEventBody, type HookReplyBody,
} from './wire.js';

const registry = createRegistry(hookFamily);

export interface HookEvent extends HookEventBody {
  /** When the daemon received it, ms since the epoch. */
  readonly receivedAt: number;
}

export type AdmissionDecision = HookReplyBody;

export interface HookListenerOptions {
  /** Socket path, e.g. /run/vmanage/hook.sock. */
  readonly path: string;
  /** Called for every valid event, after admission was decided. Must not throw (it is caught and counted). */
  readonly onEvent: (e: HookEvent, decision: AdmissionDecision) => void;
  /**
   * Admission control, asked for every valid event (the hook only enforces it where libvirt
   * listens to the exit status: prepare and migrate). Default: allow. Time-boxed by decisionTimeoutMs.
   */
  readonly admit?: (e: HookEvent) => AdmissionDecision | Promise<AdmissionDecision>;
  /** Socket file mode (default 0o600: root's libvirtd runs the hooks). */
  readonly mode?: number;
  readonly maxConnections?: number;
  /** A connection that has not sent its frame within this time is closed, ms (default 5000). */
  readonly idleTimeoutMs?: number;
  /** An admit() slower than this answers allow with reason "admission timed out", ms (default 1000). */
  readonly decisionTimeoutMs?: number;
  readonly now?: () => number;
  readonly log?: { warn(obj: object, msg: string): void };
}

export interface HookListenerCounters {
  connections: number;
  events: number;
  denied: number;
  badFrames: number;
  invalidEvents: number;
  oversizeFrames: number;
  idleTimeouts: number;
  refusedConnections: number;
  handlerErrors: number;
}

export interface HookListener {
  readonly path: string;
  readonly counters: Readonly<HookListenerCounters>;
  close(): Promise<void>;
}

export async function startHookListener(opts: HookListenerOptions): Promise<HookListener> {
  const counters: HookListenerCounters = {
    connections: 0, events: 0, denied: 0, badFrames: 0, invalidEvents: 0, oversizeFrames: 0, idleTimeouts: 0, refusedConnections: 0, handlerErrors: 0,
  };
  const sockets = new Set<Socket>();
  const maxConnections = opts.maxConnections ?? 64;
  const server = createServer((sock) => {
    if (sockets.size >= maxConnections) {
      counters.refusedConnections += 1;
      sock.destroy();
      return;
    }
    counters.connections += 1;
    sockets.add(sock);
    sock.once('close', () => sockets.delete(sock));
    serveOne(sock, opts, counters);
  });
  await removeStaleSocket(opts.path);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.path, () => { server.off('error', reject); resolve(); });
  });
  await chmod(opts.path, opts.mode ?? 0o600);
  return {
    path: opts.path,
    counters,
    close: () => closeServer(server, sockets, opts.path),
  };
}

async function closeServer(server: Server, sockets: Set<Socket>, path: string): Promise<void> {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await unlink(path).catch(() => undefined);
}

/** A socket file left by a previous daemon is removed; any other file at the path is an error. */
async function removeStaleSocket(path: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return;
  if (!st.isSocket()) throw new Error(`hook socket path ${path} exists and is not a socket`);
  await unlink(path);
}

function serveOne(sock: Socket, opts: HookListenerOptions, counters: HookListenerCounters): void {
  let done = false;
  // An absolute deadline (not an idle timer): a peer trickling bytes cannot hold a connection.
  const deadline = setTimeout(() => {
    counters.idleTimeouts += 1;
    sock.destroy();
  }, opts.idleTimeoutMs ?? 5_000);
  sock.once('close', () => clearTimeout(deadline));
  sock.on('error', () => { /* the peer went away; nothing to answer */ });
  // One frame per connection: the first good or bad frame decides, the rest is ignored.
  const decoder = new FrameDecoder({
    maxFrameBytes: MAX_HOOK_FRAME_BYTES,
    onFrame: (value) => {
      if (done) return;
      done = true;
      void handleFrame(sock, value, opts, counters);
    },
    onBad: (kind, detail) => {
      if (done) return;
      done = true;
      if (kind === 'tooLong') counters.oversizeFrames += 1;
      else counters.badFrames += 1;
      replyError(sock, '', kind === 'tooLong' ? 'FRAME_TOO_LARGE' : 'PROTOCOL_VIOLATION', detail);
    },
  });
  sock.on('data', (chunk: Buffer) => { if (!done) decoder.push(chunk); });
}

/** The protocol's hook.event schema (zod, src/protocol), then the hook's own stricter checks. */
function checkEvent(body: unknown): string | undefined {
  const checked = registry.checkBody('hook.event', body);
  if (!checked.ok) return checked.message;
  return checkHookEventBody(body);
}

async function handleFrame(sock: Socket, value: unknown, opts: HookListenerOptions, counters: HookListenerCounters): Promise<void> {
  const frame = checkFrame(value);
  if (typeof frame === 'string') {
    counters.badFrames += 1;
    replyError(sock, '', 'PROTOCOL_VIOLATION', frame);
    return;
  }
  const problem = frame.kind === 'hook.event' ? checkEvent(frame.body) : `frame.kind: expected "hook.event", got ${JSON.stringify(frame.kind.slice(0, 64))}`;
  if (problem) {
    counters.invalidEvents += 1;
    opts.log?.warn({ problem }, 'hook listener: invalid hook event');
    replyError(sock, frame.id, 'INVALID_INPUT', problem);
    return;
  }
  const b = frame.body as HookEventBody;
  const event: HookEvent = {
    object: b.object, operation: b.operation, subOperation: b.subOperation, extra: b.extra,
    vm: { uuid: b.vm.uuid, name: b.vm.name }, driver: b.driver, receivedAt: (opts.now ?? Date.now)(),
  };
  const decision = await decide(event, opts, counters);
  counters.events += 1;
  if (!decision.allow) counters.denied += 1;
  if (!sock.destroyed) sock.end(encodeFrame(frame.id, 'hook.reply', decision));
  try {
    opts.onEvent(event, decision);
  } catch (err) {
    counters.handlerErrors += 1;
    opts.log?.warn({ err: String(err) }, 'hook listener: event handler failed');
  }
}

async function decide(e: HookEvent, opts: HookListenerOptions, counters: HookListenerCounters): Promise<AdmissionDecision> {
  if (!opts.admit) return { allow: true };
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<AdmissionDecision>((resolve) => {
      timer = setTimeout(() => resolve({ allow: true, reason: 'admission timed out' }), opts.decisionTimeoutMs ?? 1_000);
    });
    const d = await Promise.race([Promise.resolve(opts.admit(e)), timeout]);
    return d.reason === undefined ? { allow: d.allow === true } : { allow: d.allow === true, reason: String(d.reason).slice(0, 512) };
  } catch (err) {
    counters.handlerErrors += 1;
    opts.log?.warn({ err: String(err) }, 'hook listener: admission callback failed; allowing');
    return { allow: true, reason: 'admission failed' };
  } finally {
    clearTimeout(timer);
  }
}

function replyError(sock: Socket, id: string, code: string, message: string): void {
  if (!sock.destroyed) sock.end(encodeFrame(id, 'error', { code, message }));
}
