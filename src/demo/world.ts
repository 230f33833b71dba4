// The simulated world of the demo cluster: hosts with a SPECpower power model and a frequency
// cap, VMs whose CPU demand follows PlanetLab traces (time-compressed: one 300 s trace step every
// stepMs), and live migration with a duration and a CPU cost. Pure model: the clock is injected,
// no I/O (the world server serves it over M-channels).
//
// CPU model (MIPS, as CloudSim's PlanetLab set-up): a host has cpus cores of mipsPerCore at full
// clock; the cap scales that by capKHz / maxKHz. A VM wants trace(t) x its MIPS, at most its
// vCPUs' worth of cores (and its quota); under contention the host's capacity is shared by weight
// (want x cpu shares), water-filled. A migrating VM gets 10 % less CPU, and each migration costs
// both hosts 10 % of the VM's demand. Power = the host's SPECpower table at the busy fraction,
// its dynamic part scaled by the DVFS law at the cap ratio (domain/power-model.ts).
// Latency model: a VM's p95 latency = baseMs / (1 - rho), rho = demand / the capacity it can get
// (saturated beyond rho 0.95): the SLA (latency <= targetMs) breaks when the cap or the host's
// contention leaves too few cycles.
import type { Clock, TimerHandle } from '../domain/clock.js';
import { ErrorCodes, VmanageError } from '../domain/errors.js';
import { dvfsModel, SPECPOWER_TABLES, tableModel, type SpecPowerTableId } from '../domain/power-model.js';
import type { PowerModel } from '../domain/ports/power.js';
import { TypedEvents } from '../mchannel/events.js';
import type { WorldEvent, WorldHostInfo, WorldScheduler, WorldVm } from '../protocol/sim.js';

export interface WorldHostSpec {
  readonly name: string;
  readonly cpus: number;
  readonly mipsPerCore: number;
  readonly table: SpecPowerTableId;
  readonly minKHz: number;
  readonly maxKHz: number;
  readonly memoryKiB: number;
  /** DVFS voltage floor (domain/power-model.ts), default 0.6. */
  readonly vFloor?: number;
}

export interface WorldVmSpec {
  readonly uuid: string;
  readonly name: string;
  readonly host: string;
  readonly vcpus: number;
  /** CPU demand at 100 % of the trace, MIPS. */
  readonly mips: number;
  readonly memoryKiB: number;
  /** CPU utilisation per 300 s step, 0..1. */
  readonly trace: ArrayLike<number>;
}

export interface WorldOptions {
  readonly clock: Clock;
  readonly hosts: readonly WorldHostSpec[];
  readonly vms: readonly WorldVmSpec[];
  /** Wall time of one trace step, ms. */
  readonly stepMs: number;
  /** Trace step the world starts at. */
  readonly startStep?: number;
  readonly latency?: { readonly baseMs: number; readonly targetMs: number };
  /** Default migration bandwidth, MiB/s. */
  readonly bandwidthMiBps?: number;
}

export interface WorldEvents {
  event: WorldEvent;
  /** A VM finished moving (the server switches its agent to the destination's socket). */
  moved: { readonly vm: string; readonly from: string; readonly to: string };
  'migration-started': { readonly vm: string; readonly from: string; readonly to: string; readonly durationMs: number };
  'migration-ended': { readonly vm: string; readonly from: string; readonly to: string; readonly outcome: 'succeeded' | 'aborted' };
}

interface HostState { readonly spec: WorldHostSpec; readonly model: PowerModel; capKHz: number; budgetWatts?: number }
interface Migration { readonly to: string; readonly startedAt: number; readonly durationMs: number; readonly timer: TimerHandle; readonly reject: (e: Error) => void }
interface VmState {
  readonly spec: WorldVmSpec; host: string; cpuTimeNs: number; sched: WorldScheduler; migration?: Migration;
}

/** One host's instantaneous state. */
export interface HostNow {
  readonly utilisation: number;
  readonly watts: number;
  /** VM uuid -> {demand, allocated} MIPS and latency ms. */
  readonly vms: ReadonlyMap<string, { readonly demand: number; readonly allocated: number; readonly latencyMs: number }>;
}

export interface WorldTotals {
  /** Host time with a known budget, and the part of it spent over the budget, ms. */
  hostMs: number; overBudgetMs: number;
  /** VM time, and the part of it with the SLA broken, ms. */
  vmMs: number; slaViolatedMs: number;
  energyJ: number;
  migrations: number; migrationsAborted: number;
}

const DEFAULT_LATENCY = { baseMs: 20, targetMs: 100 };

export class World {
  readonly events = new TypedEvents<WorldEvents>();
  readonly totals: WorldTotals = { hostMs: 0, overBudgetMs: 0, vmMs: 0, slaViolatedMs: 0, energyJ: 0, migrations: 0, migrationsAborted: 0 };
  private readonly hosts = new Map<string, HostState>();
  private readonly vmStates = new Map<string, VmState>();
  private t0: number;
  private lastTick: number;
  readonly latency: { readonly baseMs: number; readonly targetMs: number };

  constructor(private readonly o: WorldOptions) {
    if (!(o.stepMs > 0)) throw new VmanageError(ErrorCodes.InvalidInput, `world: stepMs must be > 0, got ${o.stepMs}`);
    for (const h of o.hosts) {
      const model = dvfsModel(tableModel(SPECPOWER_TABLES[h.table]), { vFloor: h.vFloor ?? 0.6 });
      this.hosts.set(h.name, { spec: h, model, capKHz: h.maxKHz });
    }
    for (const v of o.vms) {
      if (!this.hosts.has(v.host)) throw new VmanageError(ErrorCodes.InvalidInput, `world: VM ${v.name} is on unknown host ${v.host}`);
      if (v.trace.length === 0) throw new VmanageError(ErrorCodes.InvalidInput, `world: VM ${v.name} has an empty trace`);
      this.vmStates.set(v.uuid, { spec: v, host: v.host, cpuTimeNs: 0, sched: { cpuShares: 1024, vcpuQuotaUs: -1, vcpuPeriodUs: 100_000 } });
    }
    this.latency = o.latency ?? DEFAULT_LATENCY;
    this.t0 = o.clock.now();
    this.lastTick = this.t0;
  }

  /** Starts the trace (and the totals) over from now: the story begins once every daemon is up. */
  restart(): void {
    this.t0 = this.o.clock.now();
    this.lastTick = this.t0;
    Object.assign(this.totals, { hostMs: 0, overBudgetMs: 0, vmMs: 0, slaViolatedMs: 0, energyJ: 0 });
  }

  hostNames(): string[] {
    return [...this.hosts.keys()];
  }

  /** Trace position at `atMs` (default now), in steps (fractional). */
  stepNow(atMs = this.o.clock.now()): number {
    return (this.o.startStep ?? 0) + (atMs - this.t0) / this.o.stepMs;
  }

  private host(name: string): HostState {
    const h = this.hosts.get(name);
    if (!h) throw new VmanageError(ErrorCodes.NotFound, `no simulated host ${name}`, { host: name });
    return h;
  }

  /** The VM as seen from `host`: it runs there, or migrates in (paused until the move ends). */
  private vmOn(host: string, uuid: string): VmState {
    const v = this.vmStates.get(uuid.toLowerCase());
    if (!v || (v.host !== host && v.migration?.to !== host)) throw new VmanageError(ErrorCodes.VmNotFound, `VM ${uuid} is not on ${host}`, { host, vm: uuid });
    return v;
  }

  hostInfo(name: string): WorldHostInfo {
    const h = this.host(name);
    return { cpus: h.spec.cpus, minKHz: h.spec.minKHz, maxKHz: h.spec.maxKHz, capKHz: h.capKHz, curKHz: h.capKHz, memoryKiB: h.spec.memoryKiB };
  }

  vms(host: string): WorldVm[] {
    this.host(host);
    const out: WorldVm[] = [];
    for (const v of this.vmStates.values()) {
      const here = v.host === host;
      if (!here && v.migration?.to !== host) continue;
      out.push({ uuid: v.spec.uuid, name: v.spec.name, state: here ? 'running' : 'paused', vcpus: v.spec.vcpus, memoryKiB: v.spec.memoryKiB });
    }
    return out;
  }

  /** Where a VM runs now (undefined: no such VM). */
  whereIs(uuid: string): string | undefined {
    return this.vmStates.get(uuid.toLowerCase())?.host;
  }

  stats(host: string, uuid: string): { cpuTimeNs: number; memoryKiB: number; timestamp: number } {
    const v = this.vmOn(host, uuid);
    this.tick();
    return { cpuTimeNs: Math.round(v.cpuTimeNs), memoryKiB: v.spec.memoryKiB, timestamp: this.o.clock.now() };
  }

  scheduler(host: string, uuid: string): WorldScheduler {
    return { ...this.vmOn(host, uuid).sched };
  }

  setScheduler(host: string, uuid: string, s: WorldScheduler): void {
    const v = this.vmOn(host, uuid);
    this.tick();
    v.sched = { ...v.sched, ...s };
  }

  setCap(host: string, kHz: number | undefined): void {
    const h = this.host(host);
    const k = kHz ?? h.spec.maxKHz;
    if (!Number.isSafeInteger(k) || k < h.spec.minKHz || k > h.spec.maxKHz) {
      throw new VmanageError(ErrorCodes.OutOfBounds, `cap ${k} kHz outside ${h.spec.minKHz}..${h.spec.maxKHz} kHz of ${host}`, { host, value: k });
    }
    this.tick();
    h.capKHz = k;
  }

  /** The budget the host runs under (told by whoever knows it: the demo reads the host daemons). */
  setBudget(host: string, watts: number | undefined): void {
    this.tick();
    const h = this.host(host);
    if (watts === undefined) delete h.budgetWatts;
    else h.budgetWatts = watts;
  }

  capKHz(host: string): number {
    return this.host(host).capKHz;
  }

  budgetWatts(host: string): number | undefined {
    return this.host(host).budgetWatts;
  }

  /** Demand of one VM now, MIPS: the trace's value for the current step (constant within a step,
   *  as in CloudSim; wrapping around at the end of the trace). */
  private demand(v: VmState, step: number): number {
    const tr = v.spec.trace;
    const i = Math.floor(step);
    const u = tr[((i % tr.length) + tr.length) % tr.length] ?? 0;
    return Math.max(0, Math.min(1, u)) * v.spec.mips;
  }

  /** The host's state at `atMs` (default now; caps and placement as they are now): CPU shared
   *  by weight (water-filling), power, each VM's latency. */
  now(host: string, atMs?: number): HostNow {
    const h = this.host(host);
    const step = this.stepNow(atMs);
    const ratio = h.capKHz / h.spec.maxKHz;
    const coreMips = h.spec.mipsPerCore * ratio;
    const capacity = h.spec.cpus * coreMips;
    let overhead = 0;
    const wants: { v: VmState; demand: number; want: number; max: number; weight: number }[] = [];
    for (const v of this.vmStates.values()) {
      if (v.migration && (v.host === host || v.migration.to === host)) overhead += 0.1 * this.demand(v, step);
      if (v.host !== host) continue;
      const demand = this.demand(v, step);
      const q = v.sched.vcpuQuotaUs ?? -1;
      const quotaCores = q > 0 ? (q / (v.sched.vcpuPeriodUs ?? 100_000)) * v.spec.vcpus : Infinity;
      const max = Math.min(v.spec.vcpus, quotaCores) * coreMips * (v.migration ? 0.9 : 1);
      const want = Math.min(demand, max);
      wants.push({ v, demand, want, max, weight: Math.max(1e-9, want) * (v.sched.cpuShares ?? 1024) });
    }
    overhead = Math.min(overhead, capacity);
    const alloc = waterFill(wants.map((w) => ({ want: w.want, weight: w.weight })), capacity - overhead);
    const vms = new Map<string, { demand: number; allocated: number; latencyMs: number }>();
    let used = overhead;
    wants.forEach((w, i) => {
      const a = alloc[i] ?? 0;
      used += a;
      // The capacity this VM can get: its own ceiling, or what contention left it.
      const room = a < w.want - 1e-9 ? a : w.max;
      vms.set(w.v.spec.uuid, { demand: w.demand, allocated: a, latencyMs: this.latencyOf(w.demand, room) });
    });
    const utilisation = capacity > 0 ? Math.min(1, used / capacity) : 0;
    return { utilisation, watts: h.model.watts(utilisation, ratio), vms };
  }

  private latencyOf(demand: number, room: number): number {
    const { baseMs } = this.latency;
    if (demand <= 0) return baseMs;
    const rho = room > 0 ? demand / room : Infinity;
    if (rho < 0.95) return baseMs / (1 - rho);
    return Math.min(baseMs * 20 * Math.min(rho, 50), 60_000);
  }

  /** Integrates CPU time, energy, budget and SLA time from the last tick to now (left rule). */
  tick(): void {
    const now = this.o.clock.now();
    const dt = now - this.lastTick;
    if (dt <= 0) return;
    const from = this.lastTick;
    this.lastTick = now;
    for (const [name, h] of this.hosts) {
      const s = this.now(name, from);
      this.totals.energyJ += (s.watts * dt) / 1000;
      if (h.budgetWatts !== undefined) {
        this.totals.hostMs += dt;
        if (s.watts > h.budgetWatts) this.totals.overBudgetMs += dt;
      }
      const coreMips = h.spec.mipsPerCore * (h.capKHz / h.spec.maxKHz);
      for (const [uuid, vm] of s.vms) {
        const v = this.vmStates.get(uuid);
        if (v) v.cpuTimeNs += (vm.allocated / coreMips) * dt * 1e6;
        this.totals.vmMs += dt;
        if (vm.latencyMs > this.latency.targetMs) this.totals.slaViolatedMs += dt;
      }
    }
  }

  /** Latency of a VM now, ms (what its agent measures). */
  latencyMs(uuid: string): number | undefined {
    const v = this.vmStates.get(uuid.toLowerCase());
    if (!v) return undefined;
    return this.now(v.host).vms.get(v.spec.uuid)?.latencyMs;
  }

  vmName(uuid: string): string | undefined {
    return this.vmStates.get(uuid.toLowerCase())?.spec.name;
  }

  allVms(): readonly WorldVmSpec[] {
    return [...this.vmStates.values()].map((v) => v.spec);
  }

  /** Migration progress of a VM leaving `host`, or undefined. */
  progress(host: string, uuid: string): { to: string; elapsedMs: number; totalBytes: number; processedBytes: number } | undefined {
    const v = this.vmStates.get(uuid.toLowerCase());
    const m = v?.migration;
    if (!v || !m || v.host !== host) return undefined;
    const elapsedMs = Math.max(0, this.o.clock.now() - m.startedAt);
    const totalBytes = v.spec.memoryKiB * 1024;
    return { to: m.to, elapsedMs: Math.round(elapsedMs), totalBytes, processedBytes: Math.round(totalBytes * Math.min(1, elapsedMs / m.durationMs)) };
  }

  /**
   * Live-migrates a VM from `from` to `to`: the destination sees it start (paused, reason
   * migrated) at once, the move takes memory / bandwidth, then the source sees it stop and the
   * destination sees it resume. Resolves when it moved; rejects (MIGRATION_ABORTED) when aborted.
   */
  migrate(from: string, uuid: string, to: string, bandwidthMiBps?: number): Promise<void> {
    const v = this.vmOn(from, uuid);
    this.host(to);
    if (v.host !== from) throw new VmanageError(ErrorCodes.VmNotFound, `VM ${uuid} is not running on ${from}`, { vm: uuid });
    if (v.migration) throw new VmanageError(ErrorCodes.MigrationFailed, `VM ${v.spec.name} is already migrating to ${v.migration.to}`, { vm: uuid });
    if (to === from) throw new VmanageError(ErrorCodes.MigrationFailed, `VM ${v.spec.name} is already on ${to}`, { vm: uuid });
    const bw = bandwidthMiBps ?? this.o.bandwidthMiBps ?? 512;
    const durationMs = Math.max(200, Math.round((v.spec.memoryKiB / 1024 / bw) * 1000));
    this.tick();
    return new Promise<void>((resolve, reject) => {
      const timer = this.o.clock.setTimer(durationMs, () => {
        this.tick();
        delete v.migration;
        v.host = to;
        this.totals.migrations++;
        this.emitVm(from, v, 'stopped', 3, 'migrated');
        this.emitVm(to, v, 'resumed', 1, 'migrated');
        this.events.emit('moved', { vm: v.spec.uuid, from, to });
        this.events.emit('migration-ended', { vm: v.spec.uuid, from, to, outcome: 'succeeded' });
        resolve();
      });
      v.migration = { to, startedAt: this.o.clock.now(), durationMs, timer, reject };
      this.emitVm(to, v, 'started', 1, 'migrated');
      this.events.emit('migration-started', { vm: v.spec.uuid, from, to, durationMs });
    });
  }

  /** Aborts a VM's migration out of `from`; false when none is under way. */
  abortMigration(from: string, uuid: string): boolean {
    const v = this.vmStates.get(uuid.toLowerCase());
    const m = v?.migration;
    if (!v || !m || v.host !== from) return false;
    this.tick();
    m.timer.cancel();
    delete v.migration;
    this.totals.migrationsAborted++;
    this.emitVm(m.to, v, 'stopped', 0, 'destroyed');
    this.events.emit('migration-ended', { vm: v.spec.uuid, from, to: m.to, outcome: 'aborted' });
    m.reject(new VmanageError(ErrorCodes.MigrationAborted, `migration of ${v.spec.name} to ${m.to} aborted`, { vm: uuid }));
    return true;
  }

  /** Stops every migration timer (shutdown). */
  close(): void {
    for (const v of this.vmStates.values()) if (v.migration) this.abortMigration(v.host, v.spec.uuid);
  }

  private emitVm(host: string, v: VmState, kind: WorldEvent['kind'], detail: number, reason: NonNullable<WorldEvent['reason']>): void {
    this.events.emit('event', { host, uuid: v.spec.uuid, name: v.spec.name, kind, detail, reason });
  }
}

/** Shares capacity by weight, each taking at most its want; what one cannot use goes to the rest. */
export function waterFill(items: readonly { want: number; weight: number }[], capacity: number): number[] {
  const out = items.map(() => 0);
  let left = Math.max(0, capacity);
  let open = items.map((_, i) => i).filter((i) => (items[i]?.want ?? 0) > 0);
  for (let round = 0; round < items.length + 1 && open.length > 0 && left > 1e-9; round++) {
    const totalWeight = open.reduce((s, i) => s + (items[i]?.weight ?? 0), 0);
    let given = 0;
    const next: number[] = [];
    for (const i of open) {
      const it = items[i] as { want: number; weight: number };
      const share = totalWeight > 0 ? (left * it.weight) / totalWeight : left / open.length;
      const need = it.want - (out[i] as number);
      const g = Math.min(share, need);
      out[i] = (out[i] as number) + g;
      given += g;
      if (need - g > 1e-9) next.push(i);
    }
    left -= given;
    open = next;
  }
  return out;
}
