// The host daemon's leader wiring: the LeaderLink with this host's registration (capacity, power
// model and its 11-point table, cap, migration URI, trust and measured platform signals), its
// periodic update (VMs with name / vCPUs / memory, budget violations so far), and the leader's
// commands: migrate / abort-migration (MigrationRunner), power-off (logind), release, create-vm
// (create-vm.ts). Each VM's SLA class, least reliability and trust come from its vmanage metadata
// (the hypervisor port's VmInfo.meta), never from the guest.
// Units: W, kHz, KiB, ms.
import { totalmem } from 'node:os';
import type { Logger } from 'pino';
import { LeaderLink } from '../../adapters/leader-link/link.js';
import { LogindPowerControl } from '../../adapters/power/logind.js';
import type { GuestChannelManager } from '../../adapters/guests/manager.js';
import type { Clock } from '../../domain/clock.js';
import type { Hypervisor, VmInfo } from '../../domain/ports/hypervisor.js';
import type { HostPowerControl } from '../../domain/ports/power.js';
import type { Connector } from '../../mchannel/types.js';
import type { HostRegister, HostUpdate } from '../../protocol/leader.js';
import type { LeaderConfig } from './config.js';
import type { ControlLoop } from './control-loop.js';
import { createVmHandler, type CreateVmHandler } from './create-vm.js';
import { MigrationRunner } from './migrations.js';
import { readPlatformSignals } from './platform.js';
import { powerOffHandler } from './power-off.js';
import type { PowerPlant } from './power.js';

export interface HostLeaderOptions {
  readonly host: string;
  readonly cfg: LeaderConfig;
  readonly connectors: readonly Connector[];
  readonly allowPowerOff: boolean;
  readonly plant: PowerPlant;
  readonly loop: ControlLoop;
  readonly hypervisor: Hypervisor;
  readonly guests: GuestChannelManager;
  readonly clock: Clock;
  readonly log: Logger;
  readonly reliability: () => number;
  /** Host power control for power-off (default: logind on the system bus). */
  readonly powerControl?: () => HostPowerControl;
}

export interface HostLeader {
  readonly link: LeaderLink;
  readonly migrations: MigrationRunner;
  readonly creations: CreateVmHandler;
  /** Control periods whose power reading was over the budget, since start. */
  budgetViolations(): number;
  stop(): Promise<void>;
}

/** Average power at 0, 10, ..., 100 % load at full clock, W (the registration's power table). */
export function powerTable(plant: PowerPlant): number[] {
  return Array.from({ length: 11 }, (_, i) => Math.round(plant.model.watts(i / 10, 1) * 10) / 10);
}

export function registration(o: HostLeaderOptions): HostRegister {
  const p = o.plant;
  const signals = o.cfg.platformRoot === null ? {} : readPlatformSignals(o.cfg.platformRoot);
  return {
    host: o.host, cpus: p.cpus, memoryKiB: Math.floor(totalmem() / 1024),
    power: { idleWatts: p.model.idleWatts, peakWatts: p.model.peakWatts, measured: false },
    reliability: o.reliability(), trust: o.cfg.trust, frequency: { minKHz: p.minKHz, maxKHz: p.maxKHz },
    powerTableWatts: powerTable(p), capWatts: o.cfg.capWatts ?? p.model.peakWatts,
    ...(Object.keys(signals).length > 0 ? { signals } : {}),
    ...(o.cfg.migrationUri ? { migrationUri: o.cfg.migrationUri } : {}),
  };
}

/** The hypervisor's VM list as of the last refresh (the update is built synchronously). */
class Inventory {
  private vms = new Map<string, VmInfo>();
  private busy = false;

  constructor(private readonly hv: Hypervisor, private readonly log: Logger) {}

  get(uuid: string): VmInfo | undefined {
    return this.vms.get(uuid);
  }

  refresh(): void {
    if (this.busy) return;
    this.busy = true;
    this.hv.listVms().then((list) => { this.vms = new Map(list.map((v) => [v.uuid, v])); },
      (err: unknown) => this.log.debug({ err: String(err) }, 'VM inventory for the leader not refreshed'))
      .finally(() => { this.busy = false; });
  }
}

export function startHostLeader(o: HostLeaderOptions): HostLeader {
  const log = o.log;
  const inventory = new Inventory(o.hypervisor, log);
  inventory.refresh();
  let violations = 0;
  const offCycle = o.loop.bus.on('leader-link', 'cycle', ({ snapshot }) => {
    if (snapshot.power && snapshot.power.watts > snapshot.budget.watts) violations++;
  });
  const update = (): HostUpdate => {
    inventory.refresh();
    const snap = o.loop.builder.build();
    return {
      ts: o.clock.now(), ...(snap.power ? { watts: Math.max(0, snap.power.watts) } : {}), budgetWatts: snap.budget.watts, budgetSource: snap.budget.source,
      capKHz: snap.frequency.capKHz, reliability: o.reliability(), budgetViolations: violations,
      vms: snap.vms.slice(0, 4096).map((v) => {
        const info = inventory.get(v.uuid);
        const name = v.name ?? info?.name;
        const meta = info?.meta;
        return {
          uuid: v.uuid, cpuUtil: v.cpuUtil, sla: v.sla.status,
          ...(name && name.length <= 64 ? { name } : {}), ...(v.vcpus >= 1 ? { vcpus: v.vcpus } : {}),
          ...(info ? { memoryKiB: info.memoryKiB } : {}),
          ...(meta?.slaClass !== undefined ? { slaClass: meta.slaClass } : {}),
          ...(meta?.minReliability !== undefined ? { minReliability: meta.minReliability } : {}),
          ...(meta?.minTrust !== undefined ? { minTrust: meta.minTrust } : {}),
        };
      }),
    };
  };
  // The link is created below; the runner reports through it.
  const ref: { link?: LeaderLink } = {};
  const migrations = new MigrationRunner({
    hypervisor: o.hypervisor, clock: o.clock, log, maxConcurrent: o.cfg.maxMigrations,
    report: (s) => void ref.link?.migrationStatus(s),
    departing: (vm, to) => o.guests.expectDeparture(vm, to),
  });
  const powerOff = powerOffHandler({
    allowed: o.allowPowerOff, hypervisor: o.hypervisor, migrating: () => migrations.active, log,
    control: o.powerControl ?? (() => new LogindPowerControl()),
  });
  const creations = createVmHandler({ hypervisor: o.hypervisor, log, created: () => inventory.refresh() });
  const link = new LeaderLink({
    connector: o.connectors, host: o.host, clock: o.clock, log, updateMs: o.cfg.updateMs,
    registration: () => registration(o), update,
    onBudget: (watts) => o.loop.bus.emit('leader-budget', { watts }),
    onConnection: (connected) => o.loop.bus.emit('leader-connection', { connected }),
    onCommand: (op) => { if (op === 'release') o.loop.bus.emit('leader-connection', { connected: false }); },
    commands: { migrate: (c) => migrations.start(c), abortMigration: (c) => migrations.abort(c), powerOff, createVm: (c) => creations.handle(c) },
  });
  ref.link = link;
  return {
    link, migrations, creations, budgetViolations: () => violations,
    async stop() {
      offCycle();
      await migrations.stop();
      await link.stop();
    },
  };
}
