// vmanage-powerd wiring: backend from config, the service, caller authorisation, the D-Bus
// object, the name, and the periodic reading that feeds the Power* properties.
import dbus from 'dbus-next';
import type { MessageBus } from 'dbus-next';
import type { Logger } from 'pino';
import { POWER1_NAME, POWER1_PATH } from '../../adapters/power/powerd-client-protocol.js';
import { traceBus } from '../../adapters/power/hop-trace.js';
import { CallerAuthoriser, resolveGroups } from './auth.js';
import { createBackend } from './backend.js';
import type { PowerdConfig } from './config.js';
import { Power1Interface } from './dbus-interface.js';
import { PowerService } from './service.js';

export interface RunningPowerd {
  readonly bus: MessageBus;
  readonly iface: Power1Interface;
  stop(): Promise<void>;
}

/** Starts the service on an already parsed configuration (also used by the benchmark). */
/**
 * onBusLost is called once when the bus connection fails (dbus-daemon gone): a system service
 * cannot do its job without it, so main exits and the service manager restarts it.
 */
export async function startPowerd(config: PowerdConfig, log: Logger, onBusLost: (err: unknown) => void = () => undefined): Promise<RunningPowerd> {
  const backend = await createBackend(config, log);
  const service = new PowerService(backend, log);
  await service.init();
  const { gids, missing } = await resolveGroups(config.allow.groups);
  if (missing.length) log.warn({ missing }, 'allowed groups that do not exist on this host are ignored');
  const bus = config.bus === 'system' ? dbus.systemBus() : dbus.sessionBus();
  let lost = false;
  let stopping = false;
  const busLost = (err: unknown): void => {
    if (lost || stopping) return;
    lost = true;
    log.fatal({ err }, 'lost the bus');
    onBusLost(err);
  };
  bus.on('error', busLost);
  traceBus(bus, 'powerd');
  // The bus daemon going away ends the stream without an 'error'; dbus-next (0.10.2) does not
  // forward that, so listen on its connection's stream.
  const stream = (bus as unknown as { _connection?: { stream?: NodeJS.EventEmitter } })._connection?.stream;
  for (const event of ['end', 'close']) stream?.on(event, () => busLost(new Error(`the bus connection ended (${event})`)));
  const auth = new CallerAuthoriser(bus, config.allow.uids, gids);
  await auth.watch();
  const iface = new Power1Interface(bus, service, auth, log);
  bus.export(POWER1_PATH, iface);
  const reply = await bus.requestName(POWER1_NAME, dbus.NameFlag.DO_NOT_QUEUE);
  if (reply !== dbus.RequestNameReply.PRIMARY_OWNER) {
    bus.disconnect();
    throw new Error(`${POWER1_NAME} is already owned on the ${config.bus} bus (reply ${reply})`);
  }
  await iface.refresh();
  let timer: NodeJS.Timeout | undefined;
  if (config.readingIntervalMs > 0 && backend.sensor) {
    const tick = (): void => {
      service.readPower().then((r) => iface.setReading(r), (err: unknown) => log.warn({ reason: (err as Error).message }, 'power reading failed'));
    };
    tick();
    timer = setInterval(tick, config.readingIntervalMs);
  }
  log.info({ name: POWER1_NAME, bus: config.bus, backend: config.backend, sysfsRoot: config.sysfsRoot, limits: [...backend.limits.keys()], frequency: Boolean(backend.frequency), sensor: backend.sensor?.name ?? null }, 'vmanage-powerd ready');
  return {
    bus,
    iface,
    stop: async () => {
      stopping = true;
      if (timer) clearInterval(timer);
      try {
        await bus.releaseName(POWER1_NAME);
      } catch {
        // the bus may already be gone
      }
      bus.disconnect();
    },
  };
}
