// The host daemon's wiring (MVM): hypervisor (libvirt over libvirt-dbus), the guest channel
// manager, the libvirt hook listener, the session-handover endpoint between host daemons, the
// power plant (sensor + powerd) and the control loop (broker + policies) that guest SLA reports
// feed, the control socket for vmanagectl and Prometheus /metrics. Every guest report, heartbeat,
// session change and hook event is logged as one structured line.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { LibvirtHypervisor } from '../../adapters/libvirt/index.js';
import { SimHypervisor } from '../../adapters/sim/hypervisor.js';
import { startHookListener, type HookListener } from '../../adapters/hook/listener.js';
import { GuestChannelManager } from '../../adapters/guests/manager.js';
import { HandoverClient, HandoverServer } from '../../adapters/guests/handover-endpoint.js';
import { DEFAULT_XENSTORE_SOCKET, XenGuests } from '../../adapters/guests/xen-guests.js';
import { systemClock } from '../../adapters/clock.js';
import { limitedWarn } from '../../adapters/log-limit.js';
import { HostReliabilityCollector } from '../../adapters/reliability/collector.js';
import type { TimerHandle } from '../../domain/clock.js';
import type { Hypervisor } from '../../domain/ports/hypervisor.js';
import { unixConnector, unixListener } from '../../mchannel/transports/unix.js';
import { tlsConnector, tlsListener } from '../../mchannel/transports/tls.js';
import type { Connector, Listener } from '../../mchannel/types.js';
import { parseSessionState, type SessionState } from '../../mchannel/state.js';
import { createRegistry } from '../../protocol/registry.js';
import { guestFamily } from '../../protocol/guest.js';
import { leaderEndpoints, type Endpoint, type MvmConfig } from './config.js';
import { ControlLoop } from './control-loop.js';
import { startControlServer, startMetricsServer, type ControlServer, type MetricsServer } from './control.js';
import { startHostLeader, type HostLeader } from './leader.js';
import { createMvmRegistry } from './metrics.js';
import { openPowerPlant, type PowerPlant } from './power.js';

export interface Mvm {
  readonly hypervisor: Hypervisor;
  readonly guests: GuestChannelManager;
  /** The xenstore guest transport (guests.transport xenstore), else undefined. */
  readonly xen: XenGuests | undefined;
  readonly hooks: HookListener | undefined;
  readonly handover: HandoverServer | undefined;
  readonly loop: ControlLoop | undefined;
  readonly metrics: MetricsServer | undefined;
  /** What `vmanagectl status` shows. */
  status(): MvmStatus;
  stop(): Promise<void>;
}

export interface MvmStatus {
  readonly host: string;
  readonly uptimeS: number;
  readonly hypervisor: string;
  readonly power?: {
    readonly watts: number | undefined;
    readonly budgetWatts: number | undefined;
    readonly budgetSource: string | undefined;
    readonly capKHz: number;
    readonly minKHz: number;
    readonly maxKHz: number;
  };
  readonly vms: number;
  /** VMs with an open migration request (as of the latest cycle). */
  readonly migrationsOpen: number;
  readonly counters: Readonly<Record<string, number>>;
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

/** Polls the reliability collector every pollMs; a failed poll keeps the last score (logged). */
function startReliability(c: NonNullable<MvmConfig['reliability']>, clock: typeof systemClock, log: Logger, onScore: (s: number) => void): TimerHandle {
  const collector = new HostReliabilityCollector({
    ...(c.edacRoot !== undefined ? { edacRoot: c.edacRoot } : {}), ...(c.rasdaemonDb !== undefined ? { rasdaemonDb: c.rasdaemonDb } : {}),
  }, clock);
  let timer: TimerHandle | undefined;
  let stopped = false;
  const tick = (): void => {
    collector.poll().then((r) => onScore(r.score), (err: unknown) => log.warn({ err: String(err) }, 'reliability poll failed'))
      .finally(() => { if (!stopped) timer = clock.setTimer(c.pollMs, tick); });
  };
  tick();
  return { cancel: () => { stopped = true; timer?.cancel(); } };
}

export function saveSessions(path: string, states: ReadonlyMap<string, SessionState>): void {
  writeFileSync(`${path}.tmp`, JSON.stringify(Object.fromEntries(states)), { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

export async function startMvm(cfg: MvmConfig, log: Logger, hypervisor?: Hypervisor): Promise<Mvm> {
  const clock = systemClock;
  // sim:///HOST?world=SOCKET: a host of the simulated world (demo cluster); else libvirt.
  const hv = hypervisor ?? (cfg.hypervisor.uri.startsWith('sim:') ? new SimHypervisor({ uri: cfg.hypervisor.uri, clock })
    : new LibvirtHypervisor({ uri: cfg.hypervisor.uri, ...(cfg.hypervisor.busAddress ? { busAddress: cfg.hypervisor.busAddress } : {}), log }));
  const peers = cfg.handover.peers.map((p) => ({ name: p.name, connector: connectorFor(p) }));
  // A guest that has not answered for 6 s is reconnected: a hello sent before the agent opened
  // its port may be lost, and the retry is what gets the first report through quickly.
  const channel = { role: 'host', validator: createRegistry(guestFamily), clock, heartbeatMs: 2000, deadAfterMs: 6000, logger: log.child({ part: 'mchannel' }) };
  const xenLog = log.child({ part: 'xenstore' });
  // Guests can make these errors at will: each is counted (xenstore_* metrics), at most one is logged per 10 s.
  const xenWarn = limitedWarn(clock, 10_000, (obj, msg) => xenLog.warn(obj, msg));
  const xen = cfg.guests.transport === 'xenstore' ? await XenGuests.start({
    xenstoreSocket: cfg.guests.xenstoreSocket ?? DEFAULT_XENSTORE_SOCKET, channel, clock,
    onError: (domid, err) => xenWarn({ domid, err: err.message }, 'xenstore guest channel error'),
  }) : undefined;
  const guests = new GuestChannelManager({
    hypervisor: hv,
    clock,
    channel,
    ...(xen ? { transport: xen } : {}),
    handover: new HandoverClient(peers, clock),
    handoverWaitMs: cfg.handover.waitMs,
    log: log.child({ part: 'guests' }),
  });
  const startedAt = clock.now();
  const counts = { guestReports: 0, staleReports: 0 };
  let plant: PowerPlant | undefined;
  let loop: ControlLoop | undefined;
  if (cfg.power) {
    plant = await openPowerPlant(cfg.power, clock, log.child({ part: 'power' }));
    loop = new ControlLoop({
      host: cfg.host, cfg: cfg.power, plant, hypervisor: hv, clock, log,
      ...(cfg.leader ? { requestMigration: (vm: string, shed: number, d: { reason: { text: string } }) => leader!.link.requestMigration(vm, shed, d.reason.text) } : {}),
    });
  }
  let reliability = 1;
  const rel = cfg.reliability ? startReliability(cfg.reliability, clock, log, (score) => { reliability = score; loop?.builder.setReliability(score); }) : undefined;
  let leader: HostLeader | undefined;
  if (cfg.leader && loop && plant) {
    leader = startHostLeader({
      host: cfg.host, cfg: cfg.leader, connectors: leaderEndpoints(cfg.leader).map(connectorFor), allowPowerOff: cfg.power?.allowPowerOff ?? false,
      plant, loop, hypervisor: hv, guests, clock, log: log.child({ part: 'leader' }), reliability: () => reliability,
    });
  }
  guests.events.on('report', (e) => {
    counts.guestReports++;
    log.info({ event: 'sla.report', vm: e.vm, seq: e.seq, stale: e.stale, ...e.report }, 'guest SLA report');
    // A report QEMU held while no host was connected describes the past: not a control input.
    if (e.stale) counts.staleReports++;
    else loop?.slaReport(e.vm, e.report);
  });
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
    onEvent: (e) => {
      log.info({ event: 'hook', vm: e.vm.uuid, name: e.vm.name, operation: e.operation, subOperation: e.subOperation, driver: e.driver }, 'libvirt hook');
      // The VM left this host (migrated away or stopped): its open migration request is answered.
      if (e.operation === 'release') loop?.bus.emit('migration-resolved', { vm: e.vm.uuid, outcome: 'left-host' });
    },
    log,
  }) : undefined;
  if (cfg.stateFile) guests.restore(loadSessions(cfg.stateFile, log));
  await guests.start();
  await loop?.start();
  const local: { control?: ControlServer } = {};
  const status = (): MvmStatus => {
    const snap = loop?.broker.lastCycle?.snapshot;
    const g = guests.counters;
    const counters: Record<string, number> = {
      guest_reports: counts.guestReports, guest_reports_stale: counts.staleReports,
      guest_sessions_opened: g.sessionsOpened, guest_sessions_resumed_from_handover: g.resumedFromHandover, guest_handover_timeouts: g.handoverTimeouts,
      guest_sessions_handed_off: g.handedOff, guest_handover_failures: g.handoverFailures, guest_unresponsive: g.unresponsive,
      ...xen?.counters(),
      ...(loop ? {
        sla_reports_accepted: loop.builder.counters.accepted, sla_reports_rate_limited: loop.builder.counters.rate,
        sla_reports_invalid: loop.builder.counters.invalid, sla_reports_unknown_vm: loop.builder.counters.unknownVm,
        cycles: loop.broker.counters.cycles, decisions_applied: loop.broker.counters.applied, decisions_refused: loop.broker.counters.refused,
        ...(leader ? { leader_registrations: leader.link.counters.registrations, leader_budgets: leader.link.counters.budgets, leader_stale_tokens: leader.link.counters.staleTokens, leader_updates: leader.link.counters.updates,
          leader_not_leader: leader.link.counters.notLeader, leader_deposed: leader.link.counters.deposed, leader_sessions_ended: leader.link.counters.sessionsEnded, leader_commands: leader.link.counters.commands, leader_commands_refused: leader.link.counters.commandsRefused,
          migrations_started: leader.migrations.counters.started, migrations_succeeded: leader.migrations.counters.succeeded,
          migrations_failed: leader.migrations.counters.failed, migrations_aborted: leader.migrations.counters.aborted, budget_violations: leader.budgetViolations() } : {}),
        sensor_reads: loop.counters.sensorReads, sensor_errors: loop.counters.sensorErrors, migration_requests: loop.counters.migrationRequests,
      } : {}),
      ...(hv instanceof LibvirtHypervisor ? {
        libvirt_events: hv.counters.events, libvirt_unknown_events: hv.counters.unknownEvents,
        libvirt_bad_metadata: hv.counters.badMetadata, libvirt_malformed_stats: hv.counters.malformedStats,
      } : {}),
      ...(local.control ? { control_requests: local.control.counters.requests, control_bad_requests: local.control.counters.badRequests } : {}),
    };
    return {
      host: cfg.host, uptimeS: Math.round((clock.now() - startedAt) / 1000), hypervisor: hv.uri,
      ...(plant && loop ? { power: {
        watts: snap?.power?.watts, budgetWatts: snap?.budget.watts, budgetSource: snap?.budget.source,
        capKHz: loop.builder.build().frequency.capKHz, minKHz: plant.minKHz, maxKHz: plant.maxKHz,
      } } : {}),
      vms: snap?.vms.length ?? 0,
      migrationsOpen: snap?.vms.filter((v) => v.migrationOpen).length ?? 0,
      counters,
    };
  };
  const registry = createMvmRegistry({ read: () => status().counters }, loop);
  const metrics = cfg.metrics ? await startMetricsServer(cfg.metrics.host, cfg.metrics.port, registry) : undefined;
  if (cfg.control) {
    local.control = await startControlServer(cfg.control.socket, status, leader ? { requestMigration: (vm, reason) => leader.link.requestMigration(vm, 0, `operator on ${cfg.host}: ${reason}`) } : {});
  }
  log.info({ event: 'mvm.started', host: cfg.host, uri: hv.uri, peers: peers.map((p) => p.name), guests: cfg.guests.transport, hooks: cfg.hooks?.socket, handover: cfg.handover.listen, control: cfg.control?.socket, metricsPort: metrics?.port, power: plant ? { capKHz: plant.capKHz, minKHz: plant.minKHz, maxKHz: plant.maxKHz } : undefined }, 'host daemon started');
  return {
    hypervisor: hv, guests, xen, hooks, handover, loop, metrics, status,
    async stop() {
      // The loop first: no decision is carried out while the rest shuts down.
      await loop?.stop();
      await leader?.stop();
      rel?.cancel();
      await local.control?.close();
      await metrics?.close();
      const states = await guests.stop();
      await xen?.close();
      if (cfg.stateFile) {
        saveSessions(cfg.stateFile, states);
        log.info({ event: 'mvm.sessions-saved', count: states.size, file: cfg.stateFile }, 'guest sessions saved');
      }
      await handover?.close();
      await hooks?.close();
      await plant?.close();
      await hv.close();
    },
  };
}
