// The MVM's control loop: a power plant (sensor + powerd actuators), the VM inventory from the
// hypervisor, guest SLA reports from the channel manager, the broker with its policies, and the
// actuator that carries decisions out through powerd and libvirt. Guest reports enter through
// the broker's per-VM gate (rate-limited, bounded), so a flooding guest only spends its own tokens.
import type { Logger } from 'pino';
import { Actuator, Broker, defaultReportGate, defaultRails, DryRunBackend, EventBus, MemoryJournal, portsBackend, SnapshotBuilder, wireBroker, withRails, type BrokerEvents } from '../../broker/index.js';
import { createPolicyRegistry } from '../../broker/registry.js';
import { hopTracer, type HopTracer } from '../../adapters/power/hop-trace.js';
import type { Clock, TimerHandle } from '../../domain/clock.js';
import { ErrorCodes, isVmanageError, VmanageError } from '../../domain/errors.js';
import type { Decision } from '../../domain/model.js';
import { builtinPolicies } from '../../domain/policies/index.js';
import type { Hypervisor, VmCpuTime } from '../../domain/ports/hypervisor.js';
import type { SlaReport } from '../../protocol/guest.js';
import type { PowerConfig } from './config.js';
import type { PowerPlant } from './power.js';

/** A full VM listing at least this often (ms) besides the one every hypervisor event triggers. */
const LIST_EVERY_MS = 5000;

export interface ControlLoopOptions {
  readonly host: string;
  readonly cfg: PowerConfig;
  readonly plant: PowerPlant;
  readonly hypervisor: Hypervisor;
  readonly clock: Clock;
  readonly log: Logger;
  /** Sends a migration request to the leader; undefined: no leader (requests are counted only). */
  readonly requestMigration?: (vm: string, shedWatts: number, d: Decision) => Promise<void>;
}

export interface LoopCounters {
  sensorReads: number;
  sensorErrors: number;
  inventoryErrors: number;
  /** Migration requests the policies made (sent to the leader or, without one, only counted). */
  migrationRequests: number;
}

/** Headroom of a guest's report as a fraction of its target, in [-1, 1] (positive: objective met with room). */
export function reportSlack(r: SlaReport): number {
  const { op, target } = r.objective;
  const v = r.measured.value;
  const scale = Math.abs(target) > 0 ? Math.abs(target) : 1;
  const room = op === '<' || op === '<=' ? (target - v) / scale : (v - target) / scale;
  return Number.isFinite(room) ? Math.min(1, Math.max(-1, room)) : 0;
}

export class ControlLoop {
  readonly bus: EventBus<BrokerEvents>;
  readonly builder: SnapshotBuilder;
  readonly actuator: Actuator;
  readonly broker: Broker;
  readonly journal = new MemoryJournal(2000);
  readonly counters: LoopCounters = { sensorReads: 0, sensorErrors: 0, inventoryErrors: 0, migrationRequests: 0 };
  private readonly wiring: { disconnect(): void };
  private timer: TimerHandle | undefined;
  private stopped = false;
  private offEvents: (() => void) | undefined;
  /** Hop marks for bench/control-loop.ts --trace (a no-op unless VMANAGE_HOP_TRACE=1). */
  private readonly trace: HopTracer = hopTracer();

  constructor(private readonly o: ControlLoopOptions) {
    const { cfg, plant, clock, log } = o;
    this.bus = new EventBus<BrokerEvents>(log.child({ part: 'bus' }));
    this.builder = new SnapshotBuilder({
      host: o.host, clock, periodMs: cfg.periodMs, cpus: plant.cpus,
      frequency: { capKHz: plant.capKHz, minKHz: plant.minKHz, maxKHz: plant.maxKHz },
      powerModel: plant.model,
      ...(cfg.reports ? { reports: { ...defaultReportGate, ...cfg.reports } } : {}),
      budget: { leaderTimeoutMs: cfg.budget.leaderTimeoutMs, safeBudgetWatts: cfg.budget.safeWatts, ...(cfg.budget.watts !== undefined ? { configWatts: cfg.budget.watts } : {}) },
    });
    if (plant.simUtilisation !== undefined) this.builder.setHostUtil(plant.simUtilisation);
    const requestMigration = async (vm: string, shed: number, d: Decision): Promise<void> => {
      this.counters.migrationRequests++;
      if (o.requestMigration) return o.requestMigration(vm, shed, d);
      log.warn({ event: 'migration.request', vm, shedWatts: shed, reason: d.reason.text }, 'migration wanted but no leader is configured');
    };
    const backend = cfg.dryRun ? new DryRunBackend() : portsBackend({
      frequency: plant.frequency, hypervisor: o.hypervisor, requestMigration,
      ...(plant.powerLimit ? { powerLimit: plant.powerLimit } : {}),
    });
    this.actuator = new Actuator({ clock, rails: withRails(defaultRails(), cfg.rails), applyTimeoutMs: 2000, backend });
    this.actuator.setBounds('set-frequency-cap', plant.minKHz, plant.maxKHz);
    this.broker = new Broker({
      host: o.host, clock, logger: log.child({ part: 'broker' }), bus: this.bus,
      registry: createPolicyRegistry(builtinPolicies()), policies: cfg.policies,
      actuator: this.actuator, journal: this.journal, snapshot: () => this.builder.build(),
      periodMs: cfg.periodMs, minGapMs: cfg.minGapMs,
    });
    this.wiring = wireBroker({ bus: this.bus, builder: this.builder, broker: this.broker, logger: log.child({ part: 'broker' }) });
    if (this.trace.enabled) {
      this.bus.on('hop-trace', 'applying', ({ decision: d }) => {
        this.trace.mark(`mvm.decision:${d.kind}`);
        this.trace.mark(`mvm.decided:${d.kind}=${d.value}(${d.policy})`);
      });
      this.bus.on('hop-trace', 'refused', ({ result }) => this.trace.mark(`mvm.refused:${result.decision.kind}=${result.decision.value}`));
    }
  }

  /** A guest's report (vm = the UUID of the socket it came on). */
  slaReport(vm: string, r: SlaReport): void {
    this.trace.mark(`mvm.report:${r.status}`);
    this.bus.emit('sla-report', { vm, report: { status: r.status, slack: reportSlack(r) } });
  }

  async start(): Promise<void> {
    this.offEvents = this.o.hypervisor.onEvent(() => void this.refreshInventory());
    await this.refreshInventory();
    await this.readSensor();
    this.broker.start();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.o.clock.setTimer(this.o.cfg.readIntervalMs, () => {
      const full = this.o.clock.now() - this.listedAt >= LIST_EVERY_MS;
      void Promise.all([this.readSensor(), full ? this.refreshInventory() : this.refreshUtil()]).finally(() => this.schedule());
    });
  }

  private async readSensor(): Promise<void> {
    try {
      const r = await this.o.plant.sensor.read();
      this.counters.sensorReads++;
      this.bus.emit('power-reading', r);
    } catch (err) {
      this.counters.sensorErrors++;
      const last = this.o.plant.sensor.last();
      if (last) this.bus.emit('power-reading', last);
      this.o.log.warn({ err: isVmanageError(err) ? err.message : String(err) }, 'power sensor read failed');
    }
  }

  /** Last CPU time sample per running VM (pruned with the inventory). */
  private readonly cpuSamples = new Map<string, { ns: number; at: number }>();
  /** The running VMs as last listed, and when (clock ms). */
  private running: readonly { uuid: string; name: string; vcpus: number }[] = [];
  private listedAt = Number.NEGATIVE_INFINITY;

  /** A VM's CPU use over the last interval, 0..1 of its vCPUs. Where the hypervisor has no CPU
   *  accounting (libvirt's test driver) the simulated host's utilisation stands in, else 0. */
  private async cpuUtil(uuid: string, vcpus: number): Promise<number> {
    const fallback = this.o.plant.simUtilisation ?? 0;
    try {
      const st = await this.o.hypervisor.stats(uuid);
      return this.utilSince(uuid, vcpus, st.cpuTimeNs, st.timestamp);
    } catch (err) {
      if (isVmanageError(err) && err.code === ErrorCodes.Unsupported) return fallback;
      throw err;
    }
  }

  /** False once the hypervisor said it cannot read every VM at once (then stats() per VM). */
  private batchReads = true;

  /** The batch read; UNSUPPORTED (a libvirt driver without GetAllDomainStats, an old libvirt-dbus) turns it off for good. */
  private async batch(read: () => Promise<ReadonlyMap<string, VmCpuTime>>): Promise<ReadonlyMap<string, VmCpuTime> | undefined> {
    try {
      return await read();
    } catch (err) {
      if (!isVmanageError(err, ErrorCodes.Unsupported)) throw err;
      this.batchReads = false;
      this.o.log.warn({ err: err.message }, 'the hypervisor cannot read every VM\'s CPU time in one call; reading them one by one');
      return undefined;
    }
  }

  /** CPU use since this VM's previous sample (0 on the first, or after a restart of the VM), 0..1 of its vCPUs. */
  private utilSince(uuid: string, vcpus: number, ns: number, at: number): number {
    const prev = this.cpuSamples.get(uuid);
    this.cpuSamples.set(uuid, { ns, at });
    if (!prev || at <= prev.at || ns < prev.ns) return 0;
    return Math.min(1, (ns - prev.ns) / ((at - prev.at) * 1e6 * Math.max(1, vcpus)));
  }

  /**
   * Lists the VMs (every domain's description and state: 2 hypervisor calls per domain, defined
   * or running), then their CPU use. Done at start, on every hypervisor event and every
   * LIST_EVERY_MS; in between the read interval only samples the known VMs' CPU time
   * (refreshUtil, 1 call per running VM). Listing every read interval cost the MVM 25-40 % of
   * a core with 100 running and 100 defined VMs and held its event loop in bursts that delayed
   * guest reports (docs/mvm.md, "Benchmark").
   */
  private async refreshInventory(): Promise<void> {
    try {
      const vms = (await this.o.hypervisor.listVms()).filter((v) => v.state === 'running');
      this.listedAt = this.o.clock.now();
      this.running = vms.map((v) => ({ uuid: v.uuid, name: v.name, vcpus: v.vcpus }));
      for (const uuid of this.cpuSamples.keys()) if (!vms.some((v) => v.uuid === uuid)) this.cpuSamples.delete(uuid);
      await this.sampleUtil();
    } catch (err) {
      this.counters.inventoryErrors++;
      this.o.log.warn({ err: String(err) }, 'VM inventory refresh failed');
    }
  }

  /** The known running VMs' CPU use; a VM gone meanwhile makes it a full listing. */
  private async refreshUtil(): Promise<void> {
    try {
      await this.sampleUtil();
    } catch (err) {
      if (isVmanageError(err) && err.code === ErrorCodes.VmNotFound) return this.refreshInventory();
      this.counters.inventoryErrors++;
      this.o.log.warn({ err: String(err) }, 'VM CPU sampling failed');
    }
  }

  /**
   * The running VMs' CPU use: one batch read where the hypervisor has one (libvirt's
   * GetAllDomainStats: 1 call for every VM instead of 2 per VM, measured in docs/mvm.md), else
   * stats() per VM. A listed VM missing from the batch has gone: VM_NOT_FOUND, as stats() says.
   */
  private async sampleUtil(): Promise<void> {
    const vms = this.running;
    const hv = this.o.hypervisor;
    let inputs: { uuid: string; name: string; vcpus: number; cpuUtil: number }[];
    const times = hv.cpuTimes && this.batchReads ? await this.batch(hv.cpuTimes.bind(hv)) : undefined;
    if (times) {
      inputs = vms.map((v) => {
        const t = times.get(v.uuid);
        if (!t) throw new VmanageError(ErrorCodes.VmNotFound, `VM ${v.name} (${v.uuid}) is no longer running`, { uuid: v.uuid });
        return { ...v, cpuUtil: t.cpuTimeNs === undefined ? this.o.plant.simUtilisation ?? 0 : this.utilSince(v.uuid, v.vcpus, t.cpuTimeNs, t.timestamp) };
      });
    } else {
      inputs = await Promise.all(vms.map(async (v) => ({ ...v, cpuUtil: await this.cpuUtil(v.uuid, v.vcpus) })));
    }
    if (vms === this.running) this.builder.setVms(inputs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.offEvents?.();
    await this.broker.stop();
    this.wiring.disconnect();
    this.bus.removeOwner('hop-trace');
  }
}
