// The host daemon's wiring (MVM): hypervisor (libvirt over libvirt-dbus), the guest channel
// manager, the libvirt hook listener and the session-handover endpoint between host daemons.
// Every guest report, heartbeat, session change and hook event is logged as one structured line
// (the broker and its policies consume the same events later).
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { LibvirtHypervisor } from '../../adapters/libvirt/index.js';
import { startHookListener, type HookListener } from '../../adapters/hook/listener.js';
import { GuestChannelManager } from '../../adapters/guests/manager.js';
import { HandoverClient, HandoverServer } from '../../adapters/guests/handover-endpoint.js';
import { systemClock } from '../../adapters/clock.js';
import type { Hypervisor } from '../../domain/ports/hypervisor.js';
import { unixConnector, unixListener } from '../../mchannel/transports/unix.js';
import { tlsConnector, tlsListener } from '../../mchannel/transports/tls.js';
import type { Connector, Listener } from '../../mchannel/types.js';
import { parseSessionState, type SessionState } from '../../mchannel/state.js';
import { createRegistry } from '../../protocol/registry.js';
import { guestFamily } from '../../protocol/guest.js';
import type { Endpoint, MvmConfig } from './config.js';

export interface Mvm {
  readonly hypervisor: Hypervisor;
  readonly guests: GuestChannelManager;
  readonly hooks: HookListener | undefined;
  readonly handover: HandoverServer | undefined;
  stop(): Promise<void>;
}

function tlsFiles(e: { ca: string; cert: string; key: string }): { ca: Buffer; cert: Buffer; key: Buffer } {
  return { ca: readFileSync(e.ca), cert: readFileSync(e.cert), key: readFileSync(e.key) };
}

export function connectorFor(e: Endpoint): Connector {
  if ('unix' in e) return unixConnector(e.unix);
  return tlsConnector({ host: e.tls.host, port: e.tls.port, serverName: e.tls.serverName ?? e.tls.host, ...tlsFiles(e.tls) });
}

export async function listenerFor(e: Endpoint): Promise<Listener> {
  if ('unix' in e) return await unixListener(e.unix, { mode: 0o600 });
  return await tlsListener({ host: e.tls.host, port: e.tls.port, ...tlsFiles(e.tls) });
}

/** Starts the host daemon's parts; the hypervisor may be injected (tests, the simulator). */
/** Sessions saved at the last shutdown; a bad entry is skipped and logged (the file is ours, but
 *  a crash may have left it half-written). The file is removed once read. */
export function loadSessions(path: string, log: Logger): Map<string, SessionState> {
  const out = new Map<string, SessionState>();
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ path, err: String(err) }, 'cannot read saved guest sessions');
    return out;
  }
  rmSync(path, { force: true });
  for (const [vm, state] of Object.entries(typeof raw === 'object' && raw !== null ? raw : {})) {
    try {
      out.set(vm, parseSessionState(state));
    } catch (err) {
      log.warn({ path, vm, err: String(err) }, 'skipping a saved guest session');
    }
  }
  return out;
}

export function saveSessions(path: string, states: ReadonlyMap<string, SessionState>): void {
  writeFileSync(`${path}.tmp`, JSON.stringify(Object.fromEntries(states)), { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

export async function startMvm(cfg: MvmConfig, log: Logger, hypervisor?: Hypervisor): Promise<Mvm> {
  const clock = systemClock;
  const hv = hypervisor ?? new LibvirtHypervisor({ uri: cfg.hypervisor.uri, ...(cfg.hypervisor.busAddress ? { busAddress: cfg.hypervisor.busAddress } : {}), log });
  const peers = cfg.handover.peers.map((p) => ({ name: p.name, connector: connectorFor(p) }));
  const guests = new GuestChannelManager({
    hypervisor: hv,
    clock,
    // A guest that has not answered for 6 s is reconnected: a hello sent before the agent opened
    // its port may be lost, and the retry is what gets the first report through quickly.
    channel: { role: 'host', validator: createRegistry(guestFamily), clock, heartbeatMs: 2000, deadAfterMs: 6000, logger: log.child({ part: 'mchannel' }) },
    handover: new HandoverClient(peers, clock),
    handoverWaitMs: cfg.handover.waitMs,
    log: log.child({ part: 'guests' }),
  });
  guests.events.on('report', (e) => log.info({ event: 'sla.report', vm: e.vm, seq: e.seq, stale: e.stale, ...e.report }, 'guest SLA report'));
  guests.events.on('heartbeat', (e) => log.debug({ event: 'agent.heartbeat', vm: e.vm, seq: e.seq, stale: e.stale, ...e.body }, 'guest heartbeat'));
  guests.events.on('hello', (e) => log.info({ event: 'agent.hello', vm: e.vm, seq: e.seq, stale: e.stale, ...e.body }, 'guest agent hello'));
  guests.events.on('session', (e) => log.info({ event: 'guest.session', vm: e.vm, change: e.event, ...e.detail }, `guest session ${e.event}`));

  const handover = cfg.handover.listen ? new HandoverServer({
    listener: await listenerFor(cfg.handover.listen),
    clock,
    accept: (vm, state, from) => guests.receiveHandover(vm, state, from),
  }) : undefined;
  const hooks = cfg.hooks ? await startHookListener({
    path: cfg.hooks.socket,
    onEvent: (e) => log.info({ event: 'hook', vm: e.vm.uuid, name: e.vm.name, operation: e.operation, subOperation: e.subOperation, driver: e.driver }, 'libvirt hook'),
    log,
  }) : undefined;
  if (cfg.stateFile) guests.restore(loadSessions(cfg.stateFile, log));
  await guests.start();
  log.info({ event: 'mvm.started', host: cfg.host, uri: hv.uri, peers: peers.map((p) => p.name), hooks: cfg.hooks?.socket, handover: cfg.handover.listen }, 'host daemon started');
  return {
    hypervisor: hv, guests, hooks, handover,
    async stop() {
      const states = await guests.stop();
      if (cfg.stateFile) {
        saveSessions(cfg.stateFile, states);
        log.info({ event: 'mvm.sessions-saved', count: states.size, file: cfg.stateFile }, 'guest sessions saved');
      }
      await handover?.close();
      await hooks?.close();
      await hv.close();
    },
  };
}
