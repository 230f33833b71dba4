// The Cluster Leader in the simulator: the production leader policies (src/domain/leader) on a
// ClusterState built from the simulated data centre, once per trace step, as the leader daemon
// runs them on host updates: the budget split (budgetPolicy, with its hysteresis), then
// planMigrations (host requests from the violation trigger first, then the audit, then
// consolidation with power-off / power-on) under the MigrationLedger's stability rules.
// Placement of the VMs at time 0 is placeVm, one VM after the other. Both see which hosts' cores
// are fast enough for a VM (ClusterIndex.eligible), which the ClusterState cannot say.
//
// Units in the ClusterState: CPU in compute units of REF_MIPS (a G4 host has 3.72, a 2500-MIPS VM
// 2.5 vCPUs), so that "cores" add up across the two host types; memory MiB; W; ms.
import type { ClusterHost, ClusterState, ClusterVm, HostPowerState, VmRequest } from '../../domain/cluster.js';
import { budgetPolicy, migrationPolicy, type MigrationPolicy } from '../../domain/leader/index.js';
import { consumersToShed, hostConsumers, type BudgetConsumer } from '../../domain/leader/budget-split.js';
import { addVm, buildIndex } from '../../domain/leader/cluster-index.js';
import { UtilWindow } from '../../domain/leader/demand.js';
import type { MigrationParams, MigrationRequest } from '../../domain/leader/migration.js';
import { placeVm } from '../../domain/leader/placement.js';
import type { Datacenter } from '../datacenter.js';
import type { Migration } from '../policies/types.js';
import { hostDemand, simWatts, type HostRequest } from './host.js';

/** Core rule of SimLeader's destination filter (VmanageOptions.coreFit). */
export type CoreFit = 'full' | 'peak';

/** One compute unit, MIPS. */
export const REF_MIPS = 1000;
/**
 * A VM whose planned peak does not fit one core of its host is moved only once it has been short
 * on that core in at least MISFIT_SAMPLES of the last MISFIT_WINDOW trace samples (3 of 12 x
 * 300 s: 15 min of shortfall within the hour): a move is for a persistent misfit, steady or
 * recurring; a one-off burst of a sample or two ends before a move could pay back.
 * Destinations still need the planned peak to fit.
 */
export const MISFIT_SAMPLES = 3;
export const MISFIT_WINDOW = 12;
/** Host budget when there is no cluster budget (scenario cloudsim): above any host's peak, W. */
const NO_BUDGET_MARGIN_W = 50;

export interface LeaderCounters {
  decisions: Record<string, number>;
  requestsIgnored: number;
  blockedVms: number;
  unresolvedHosts: number;
  budgetUnreachableHosts: number;
  powerOn: number;
  powerOff: number;
  /** Hosts drained because the budget could not cover every host on (consumersToShed). */
  shed: number;
  /** Passes where the budget split had a shortfall (floors over the total). */
  shortfallPasses: number;
  /** Requests the leader raised for VMs whose planned peak does not fit a core of their host. */
  coreMisfits: number;
}

interface InFlight { uuid: string; from: string; to: string }

export class SimLeader {
  readonly state: HostPowerState[];
  readonly stateSince: Float64Array;
  readonly budgets: Float64Array;
  readonly counters: LeaderCounters = { decisions: {}, requestsIgnored: 0, blockedVms: 0, unresolvedHosts: 0, budgetUnreachableHosts: 0, powerOn: 0, powerOff: 0, shed: 0, shortfallPasses: 0, coreMisfits: 0 };
  private readonly windows: UtilWindow[];
  /** Samples seen per VM since it was placed (its declared use counts as the first). */
  private readonly seen: Uint32Array;
  /** Per VM, bit i set: its demand exceeded one core of its host i samples ago (MISFIT_WINDOW bits). */
  private readonly shortOnCore: Uint16Array;
  private readonly migration: MigrationPolicy = migrationPolicy.create();
  private readonly split = budgetPolicy.create();
  private inFlight: InFlight[] = [];
  /** Hosts being drained for the budget: budget 0, their VMs requested away, then powered off. */
  private readonly draining = new Set<number>();

  /** windowSamples: trace samples in the recent-peak window the planner judges destinations on. */
  constructor(private readonly dc: Datacenter, private readonly p: MigrationParams, windowSamples: number, private readonly priorSamples = 0, private readonly coreFit: CoreFit = 'full') {
    this.seen = new Uint32Array(dc.vmCount);
    this.shortOnCore = new Uint16Array(dc.vmCount);
    this.state = Array.from({ length: dc.hostCount }, () => 'on');
    this.stateSince = new Float64Array(dc.hostCount).fill(-1e12);
    this.budgets = Float64Array.from(dc.setup.hosts, (s) => s.power.peakWatts + NO_BUDGET_MARGIN_W);
    this.windows = Array.from({ length: dc.vmCount }, () => new UtilWindow(windowSamples));
  }

  /**
   * Places every VM with the leader's placement, one after the other; returns how many found no
   * host. fullSize: judged at the VM's full size (CloudSim creates VMs at their full MIPS); else
   * at the CPU use its request declares, taken as its first trace sample.
   */
  initialPlacement(fullSize: boolean): number {
    const dc = this.dc;
    this.noteFastestCore();
    const index = buildIndex(this.clusterState(0, []), this.eligible);
    const prior = typeMeans(dc.vmCount, (v) => this.typeOf(v), (v) => (fullSize ? 1 : ((dc.workload.utilisation[v] as Float64Array)[0] as number)));
    let unplaced = 0;
    for (let v = 0; v < dc.vmCount; v++) {
      const first = fullSize ? 1 : ((dc.workload.utilisation[v] as Float64Array)[0] as number);
      const req = this.vmRequest(v, first, priorPeak(first, 1, this.priorSamples, prior.get(this.typeOf(v)) ?? first));
      const r = placeVm(index, req, this.p.placement);
      if (!r.ok) { unplaced++; continue; }
      addVm(index, r.chosen.load, { ...req, host: r.chosen.load.host.id });
      dc.place(v, hostIndex(r.chosen.load.host.id));
    }
    return unplaced;
  }

  /**
   * One leader pass at simulated time nowMs: the last pass's migrations are over, VM windows take
   * this step's sample, the budget is split (budgetW undefined: none), the planner runs on the
   * hosts' requests. Returns the migrations to start; records power changes.
   */
  pass(nowMs: number, budgetW: number | undefined, requests: readonly HostRequest[]): Migration[] {
    const dc = this.dc;
    for (const f of this.inFlight) this.migration.ledger.finished(f.uuid, true, nowMs);
    this.inFlight = [];
    this.migration.ledger.prune(nowMs, this.p.stability);
    for (let h = 0; h < dc.hostCount; h++) {
      if (this.state[h] === 'powering-on') { this.state[h] = 'on'; this.stateSince[h] = nowMs; }
    }
    for (let v = 0; v < dc.vmCount; v++) {
      if ((dc.vmHost[v] as number) < 0) continue;
      (this.windows[v] as UtilWindow).push((dc.demand[v] as number) / (dc.setup.vms[v]?.mips ?? 1));
      this.seen[v] = (this.seen[v] as number) + 1;
    }
    const vms = this.clusterVms();
    if (budgetW !== undefined) this.splitBudget(nowMs, budgetW, vms);
    // The hosts' own requests (violation trigger) first; a drained host that did not ask gets a
    // request from the leader for its lightest VM (one per host per pass, as planMigrations takes).
    const reqs: MigrationRequest[] = requests.map((r) => ({ host: hostId(r.host), vm: vmId(r.vm), shedWatts: r.shedWatts }));
    const asked = new Set(requests.map((r) => r.host));
    for (const h of this.draining) {
      const vms = dc.hostVms[h] as number[];
      if (vms.length === 0 || asked.has(h)) continue;
      const v = vms.reduce((a, b) => ((dc.demand[b] as number) < (dc.demand[a] as number) ? b : a));
      reqs.push({ host: hostId(h), vm: vmId(v), shedWatts: 0 });
      asked.add(h);
    }
    // A VM whose planned peak no longer fits a core of its host, and which has been short on that
    // core in MISFIT_SAMPLES of the last MISFIT_WINDOW samples, is moved as if its host asked.
    this.countShortOnCore();
    for (const vm of vms) {
      const h = hostIndex(vm.host);
      if (asked.has(h) || this.fitsCore(vm, h) || bitCount(this.shortOnCore[vmIndex(vm.uuid)] as number) < MISFIT_SAMPLES) continue;
      reqs.push({ host: vm.host, vm: vm.uuid, shedWatts: 0 });
      asked.add(h);
      this.counters.coreMisfits++;
    }
    this.noteFastestCore();
    const plan = this.migration.plan(this.clusterState(nowMs, vms), reqs, this.p, this.eligible);
    const c = this.counters;
    c.requestsIgnored += plan.stats.requestsIgnored;
    c.blockedVms += plan.stats.blockedVms;
    c.unresolvedHosts += plan.stats.unresolvedHosts;
    c.budgetUnreachableHosts += plan.stats.budgetUnreachableHosts;
    const out: Migration[] = [];
    for (const d of plan.decisions) {
      const key = `${d.kind}:${d.reason.code}`;
      c.decisions[key] = (c.decisions[key] ?? 0) + 1;
      if (d.kind === 'migrate-vm' && d.from !== undefined && d.to !== undefined) {
        this.migration.ledger.started(d.target, d.from, d.to, nowMs, this.p.stability);
        this.inFlight.push({ uuid: d.target, from: d.from, to: d.to });
        out.push({ vm: Number(d.target.slice(1)), target: hostIndex(d.to), reason: d.reason.code });
      } else if (d.kind === 'power-off-host') {
        this.setState(hostIndex(d.target), 'off', nowMs);
        c.powerOff++;
      } else if (d.kind === 'power-on-host') {
        this.setState(hostIndex(d.target), 'powering-on', nowMs);
        c.powerOn++;
      }
    }
    for (const h of [...this.draining]) {
      if ((dc.hostVms[h] as number[]).length === 0 && !out.some((m) => m.target === h) && this.state[h] === 'on') {
        this.setState(h, 'off', nowMs);
        c.powerOff++;
      }
    }
    return out;
  }

  /** Updates shortOnCore with this step's demand (a VM's vCPU gets at most one core, MIPS). */
  private countShortOnCore(): void {
    const dc = this.dc;
    for (let v = 0; v < dc.vmCount; v++) {
      const h = dc.vmHost[v] as number;
      const short = h >= 0 && (dc.demand[v] as number) > (dc.peMips[h] as number);
      this.shortOnCore[v] = (((this.shortOnCore[v] as number) << 1) | (short ? 1 : 0)) & ((1 << MISFIT_WINDOW) - 1);
    }
  }

  /**
   * A VM may go only where its vCPU's planned peak fits one core (CloudSim's scheduler gives a
   * vCPU at most one core: a 2500-MIPS VM at 80 % is short on a 1860-MIPS G4 core however empty
   * the host), and where its vCPU fits one core at FULL size whenever a host that is on has such
   * cores: a VM may ask for its whole vCPU at any time (a burst), and a core slower than the vCPU
   * then leaves it short and starts the next move. Only when no host on has cores that fast does
   * the planned peak alone decide. The leader's ClusterState has no per-core speed, so the
   * simulator supplies it.
   */
  private readonly eligible = (vm: VmRequest, host: ClusterHost): boolean => {
    const h = hostIndex(host.id);
    const full = vm.vcpus * REF_MIPS;
    return this.fitsCore(vm, h) && (this.coreFit === 'peak' || full <= (this.dc.peMips[h] as number) || full > this.fastestOnCore);
  };

  /** The fastest core of a host that is on (or powering on), MIPS; set at each pass. */
  private fastestOnCore = 0;

  private noteFastestCore(): void {
    let best = 0;
    for (let h = 0; h < this.dc.hostCount; h++) {
      if (this.state[h] === 'on' || this.state[h] === 'powering-on') best = Math.max(best, this.dc.peMips[h] as number);
    }
    this.fastestOnCore = best;
  }

  private fitsCore(vm: VmRequest, h: number): boolean {
    return vm.vcpus * REF_MIPS * Math.max(vm.cpuPeak, vm.cpuUtil) <= (this.dc.peMips[h] as number);
  }

  private setState(h: number, s: HostPowerState, nowMs: number): void {
    if ((this.dc.hostVms[h] as number[]).length > 0 && s === 'off') return; // never cut a host with VMs
    if (s === 'off') this.draining.delete(h);
    this.state[h] = s;
    this.stateSince[h] = nowMs;
  }

  /**
   * Budgets for this pass. When the total cannot cover every host's predicted demand
   * (consumersToShed returns someone), every empty host that has been on for minOnMs is shed
   * first (it holds idle power for no load) and powered off at once, then the lightest loaded
   * hosts are drained as consumersToShed says: budget 0, their VMs requested away, powered off
   * when empty. The others share the total (splitBudget, with hysteresis), so the watts go to
   * hosts that carry load and can take more. A drained host stays drained; Σ budgets <= total.
   */
  splitBudget(nowMs: number, budgetW: number, vms: readonly ClusterVm[] = this.clusterVms()): void {
    const dc = this.dc;
    const all = hostConsumers(buildIndex(this.clusterState(nowMs, vms)));
    const lighter = (a: BudgetConsumer, b: BudgetConsumer): number => a.demandWatts - b.demandWatts || (a.id < b.id ? -1 : 1);
    let kept = all.filter((c) => !this.draining.has(hostIndex(c.id)));
    if (consumersToShed(budgetW, kept, budgetPolicy.defaults, lighter).length > 0) {
      for (const c of kept) {
        const h = hostIndex(c.id);
        if (this.state[h] === 'on' && (dc.hostVms[h] as number[]).length === 0 && nowMs - (this.stateSince[h] as number) >= this.p.stability.minOnMs) {
          this.setState(h, 'off', nowMs);
          this.counters.powerOff++;
          this.counters.shed++;
        }
      }
      kept = kept.filter((c) => this.state[hostIndex(c.id)] !== 'off');
      for (const id of consumersToShed(budgetW, kept, budgetPolicy.defaults, lighter)) {
        this.draining.add(hostIndex(id));
        this.counters.shed++;
      }
    }
    const consumers = all.map((c) => (this.draining.has(hostIndex(c.id)) || this.state[hostIndex(c.id)] === 'off' ? { ...c, floorWatts: 0, capWatts: 0, demandWatts: 0 } : c));
    const r = this.split.split(budgetW, consumers, budgetPolicy.defaults);
    if (r.shortfallWatts > 0) this.counters.shortfallPasses++;
    for (const [id, w] of r.budgets) this.budgets[hostIndex(id)] = w;
  }

  /** A VM's type as the leader knows it from the request: its size (MIPS). */
  private typeOf(v: number): number {
    return this.dc.setup.vms[v]?.mips ?? 0;
  }

  private vmRequest(v: number, util: number, peak: number): VmRequest {
    const spec = this.dc.setup.vms[v];
    return {
      uuid: vmId(v), vcpus: (spec?.mips ?? 0) / REF_MIPS, memoryMiB: spec?.ramMb ?? 0, cpuUtil: util, cpuPeak: peak,
      sla: 'bronze', minReliability: 0, minTrust: 'untrusted',
    };
  }

  /** The VMs as the leader sees them from host updates: last use and recent peak (p95 of the window). */
  clusterVms(): ClusterVm[] {
    const dc = this.dc;
    const vms: ClusterVm[] = [];
    const observed = new Float64Array(dc.vmCount).fill(Number.NaN);
    for (let v = 0; v < dc.vmCount; v++) {
      if ((dc.vmHost[v] as number) < 0) continue;
      const w = this.windows[v] as UtilWindow;
      observed[v] = w.peak() ?? w.last() ?? 0;
    }
    const prior = typeMeans(dc.vmCount, (v) => this.typeOf(v), (v) => observed[v] as number);
    for (let v = 0; v < dc.vmCount; v++) {
      const h = dc.vmHost[v] as number;
      if (h < 0) continue;
      const w = this.windows[v] as UtilWindow;
      const util = w.last() ?? 0;
      const obs = observed[v] as number;
      vms.push({ ...this.vmRequest(v, util, priorPeak(obs, Math.max(1, this.seen[v] as number), this.priorSamples, prior.get(this.typeOf(v)) ?? obs)), host: hostId(h) });
    }
    return vms;
  }

  /** The cluster as the leader sees it from host registrations and updates. */
  clusterState(nowMs: number, vms: readonly ClusterVm[]): ClusterState {
    const dc = this.dc;
    const memoryLimits = dc.setup.memoryLimitsMigration;
    const hosts: ClusterHost[] = dc.setup.hosts.map((spec, h) => ({
      id: hostId(h),
      attrs: {
        cpus: (dc.totalMips[h] as number) / REF_MIPS,
        // CloudSim's set-up: RAM does not limit where a running VM goes (SimSetup.memoryLimitsMigration).
        memoryMiB: memoryLimits ? spec.ramMb : Number.MAX_SAFE_INTEGER,
        powerModel: spec.power, capWatts: spec.power.peakWatts, trust: 'standard',
      },
      state: this.state[h] as HostPowerState,
      budgetWatts: this.budgets[h] as number,
      ...((dc.hostVms[h] as number[]).length > 0 ? { measuredWatts: simWatts(dc, h, hostDemand(dc, h), dc.freqRatio[h] as number) } : {}),
      reliability: 1,
      stateSince: this.stateSince[h] as number,
    }));
    return { at: nowMs, hosts, vms };
  }
}

/**
 * The peak the leader plans a VM at after n samples of it: its observed peak shrunk towards the
 * prior (the mean observed peak of VMs of its type) with the weight of k pseudo-samples,
 * (n * observed + k * prior) / (n + k), never below the observed peak. k = 0: the observed peak.
 * Utilisations are fractions 0..1 of the VM's vCPUs.
 */
export function priorPeak(observed: number, n: number, k: number, prior: number): number {
  return k <= 0 ? observed : Math.max(observed, (n * observed + k * prior) / (n + k));
}

/** Mean of value(v) per key(v) over the VMs whose value is a number. */
function typeMeans(n: number, key: (v: number) => number, value: (v: number) => number): Map<number, number> {
  const sum = new Map<number, [number, number]>();
  for (let v = 0; v < n; v++) {
    const x = value(v);
    if (Number.isNaN(x)) continue;
    const s = sum.get(key(v)) ?? [0, 0];
    s[0] += x;
    s[1]++;
    sum.set(key(v), s);
  }
  return new Map([...sum].map(([k, [s, c]]) => [k, s / c]));
}

function hostId(h: number): string {
  return `h${String(h).padStart(4, '0')}`;
}

function hostIndex(id: string): number {
  return Number(id.slice(1));
}

function bitCount(x: number): number {
  let n = 0;
  for (let b = x; b !== 0; b &= b - 1) n++;
  return n;
}

function vmIndex(id: string): number {
  return Number(id.slice(1));
}

function vmId(v: number): string {
  return `v${v}`;
}
