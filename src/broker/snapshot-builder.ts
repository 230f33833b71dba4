// Gathers the broker's inputs (power readings, leader budget, inventory, guests' SLA reports,
// knob states) and builds the HostSnapshot the policies decide on.
//
// Guest SLA reports are untrusted: each VM has its own token bucket (burst, perSecond), so a
// guest flooding reports only empties its own bucket and cannot starve the others; a report is
// O(1) work and per-VM state is bounded (latest status + at most maxViolationsCounted
// timestamps). Reports from VMs not in the inventory are dropped. Everything dropped is counted.
import type { Clock } from '../domain/clock.js';
import type { FrequencyCapState, HostSnapshot, PowerLimitKnobState, PowerSample, SlaStatus, VmSnapshot } from '../domain/model.js';
import type { SchedulerParams } from '../domain/ports/hypervisor.js';
import type { PowerModel, PowerReading } from '../domain/ports/power.js';
import { effectiveBudget, type FailSafeBudgetParams } from '../domain/policies/fail-safe.js';

export interface ReportGateParams {
  /** Reports a VM may send at once, count. */
  readonly burst: number;
  /** Sustained reports per VM, per second. */
  readonly perSecond: number;
  /** Window over which a VM's violation reports are counted, ms. */
  readonly violationWindowMs: number;
  /** Most violation reports counted per VM in that window. */
  readonly maxViolationsCounted: number;
}

export const defaultReportGate: ReportGateParams = { burst: 5, perSecond: 2, violationWindowMs: 60_000, maxViolationsCounted: 64 };

export interface SlaReportInput {
  readonly status: SlaStatus;
  /** Headroom as a fraction of the SLA target (see SlaState.slack). */
  readonly slack?: number;
}

export type ReportVerdict = { readonly accepted: true } | { readonly accepted: false; readonly reason: 'rate' | 'invalid' | 'unknown-vm'; readonly problem: string };

export interface VmInput {
  readonly uuid: string;
  readonly name?: string;
  readonly vcpus: number;
  /** Fraction of its vCPUs, 0..1. */
  readonly cpuUtil: number;
  readonly scheduler?: SchedulerParams;
}

export interface SnapshotBuilderOptions {
  readonly host: string;
  readonly clock: Clock;
  readonly periodMs: number;
  readonly cpus: number;
  readonly frequency: FrequencyCapState;
  readonly powerLimit?: PowerLimitKnobState;
  readonly powerModel?: PowerModel;
  readonly budget: FailSafeBudgetParams & { readonly configWatts?: number };
  readonly reports?: ReportGateParams;
  /** An open migration request with no answer is forgotten after this, ms. */
  readonly migrationTimeoutMs?: number;
}

interface VmState {
  info: VmInput;
  status: SlaStatus;
  slack: number;
  reportedAt?: number;
  violations: number[];
  tokens: number;
  refilledAt: number;
}

export interface ReportCounters {
  accepted: number;
  rate: number;
  invalid: number;
  unknownVm: number;
}

export class SnapshotBuilder {
  private readonly vms = new Map<string, VmState>();
  /** VM uuid -> its migration request: since when (ms) and how far it got (see migrationSending). */
  private readonly openMigrations = new Map<string, { since: number; state: MigrationState }>();
  private power: PowerReading | undefined;
  private leaderWatts: number | undefined;
  private leaderContactAt: number | undefined;
  private leaderConnected = false;
  private hostUtil: number | undefined;
  private reliability = 1;
  private frequency: FrequencyCapState;
  private powerLimit: PowerLimitKnobState | undefined;
  private readonly gate: ReportGateParams;
  readonly counters: ReportCounters = { accepted: 0, rate: 0, invalid: 0, unknownVm: 0 };
  /** Requests answered before their sending finished (they stay closed; see migrationRequested). */
  readonly migrationCounters = { resolvedWhileSending: 0 };

  constructor(private readonly opts: SnapshotBuilderOptions) {
    this.frequency = opts.frequency;
    this.powerLimit = opts.powerLimit;
    this.gate = opts.reports ?? defaultReportGate;
  }

  setPower(r: PowerReading): void { this.power = r; }
  setHostUtil(u: number): void { this.hostUtil = Number.isFinite(u) ? Math.min(1, Math.max(0, u)) : undefined; }
  /** Reliability score 0..1 (1 = no recent hardware errors), clamped. */
  setReliability(score: number): void { this.reliability = Number.isFinite(score) ? Math.min(1, Math.max(0, score)) : 0; }
  setFrequency(f: FrequencyCapState): void { this.frequency = f; }
  setFrequencyCap(capKHz: number): void { this.frequency = { ...this.frequency, capKHz }; }
  setPowerLimit(p: PowerLimitKnobState | undefined): void { this.powerLimit = p; }
  /** The hardware limit now in force, W (no-op when the host has no power-limit knob). */
  setPowerLimitWatts(watts: number | null): void {
    if (this.powerLimit) this.powerLimit = { ...this.powerLimit, watts };
  }

  /** A budget from the leader (also counts as contact). */
  setLeaderBudget(watts: number): void {
    this.leaderWatts = watts;
    this.leaderContact();
  }

  leaderContact(): void {
    this.leaderContactAt = this.opts.clock.now();
    this.leaderConnected = true;
  }

  setLeaderConnected(connected: boolean): void {
    this.leaderConnected = connected;
  }

  /** Replaces the inventory; SLA state of VMs that stay is kept. */
  setVms(list: readonly VmInput[]): void {
    const keep = new Set(list.map((v) => v.uuid));
    for (const uuid of this.vms.keys()) if (!keep.has(uuid)) this.vms.delete(uuid);
    for (const uuid of this.openMigrations.keys()) if (!keep.has(uuid)) this.openMigrations.delete(uuid);
    for (const info of list) this.upsertVm(info);
  }

  upsertVm(info: VmInput): void {
    const cur = this.vms.get(info.uuid);
    if (cur) cur.info = { ...cur.info, ...info };
    else this.vms.set(info.uuid, { info, status: 'unknown', slack: 0, violations: [], tokens: this.gate.burst, refilledAt: this.opts.clock.now() });
  }

  removeVm(uuid: string): void {
    this.vms.delete(uuid);
    this.openMigrations.delete(uuid);
  }

  // A migration request's life: the broker decides it and starts sending it (migrationSending:
  // open, so no policy asks for the VM again while it is on its way); the send completes
  // (migrationRequested: open) or fails (migrationNotSent: closed). An answer (migrationResolved:
  // the leader's status, or the VM left the host) closes it whenever it comes, also before the
  // send completed: a send that completes after its answer must not re-open the request, else
  // it stays open until migrationTimeoutMs and blocks every further request.

  /** The broker started sending a request for `uuid`. */
  migrationSending(uuid: string): void {
    if (this.openMigrations.get(uuid)?.state === 'open') return;
    this.openMigrations.set(uuid, { since: this.opts.clock.now(), state: 'sending' });
  }

  /** The request for `uuid` was sent. Returns false when its answer came first (it stays closed). */
  migrationRequested(uuid: string): boolean {
    if (this.openMigrations.get(uuid)?.state === 'answered') {
      this.openMigrations.delete(uuid);
      this.migrationCounters.resolvedWhileSending++;
      return false;
    }
    this.openMigrations.set(uuid, { since: this.opts.clock.now(), state: 'open' });
    return true;
  }

  /** Sending the request for `uuid` failed: nothing is open. */
  migrationNotSent(uuid: string): void {
    const st = this.openMigrations.get(uuid)?.state;
    if (st === 'sending' || st === 'answered') this.openMigrations.delete(uuid);
  }

  /** The request for `uuid` was answered (done, refused, failed, the VM left). */
  migrationResolved(uuid: string): void {
    const m = this.openMigrations.get(uuid);
    if (m?.state === 'sending') m.state = 'answered';
    else this.openMigrations.delete(uuid);
  }

  /** An SLA report from the guest of VM `uuid` (identity from the transport, not the message). */
  slaReport(uuid: string, report: SlaReportInput): ReportVerdict {
    const vm = this.vms.get(uuid);
    if (!vm) return this.drop('unknownVm', 'unknown-vm', `SLA report from VM ${uuid}: not in this host's inventory`);
    const now = this.opts.clock.now();
    vm.tokens = Math.min(this.gate.burst, vm.tokens + ((now - vm.refilledAt) * this.gate.perSecond) / 1000);
    vm.refilledAt = now;
    if (vm.tokens < 1) return this.drop('rate', 'rate', `SLA report from VM ${uuid}: over ${this.gate.perSecond}/s (burst ${this.gate.burst})`);
    vm.tokens -= 1;
    const problem = checkReport(report);
    if (problem) return this.drop('invalid', 'invalid', `SLA report from VM ${uuid}: ${problem}`);
    vm.status = report.status;
    vm.slack = report.slack ?? (report.status === 'violated' ? -0.01 : 0);
    vm.reportedAt = now;
    if (report.status === 'violated') {
      vm.violations.push(now);
      if (vm.violations.length > this.gate.maxViolationsCounted) vm.violations.shift();
    }
    this.counters.accepted++;
    return { accepted: true };
  }

  build(): HostSnapshot {
    const now = this.opts.clock.now();
    const timeout = this.opts.migrationTimeoutMs ?? 600_000;
    for (const [uuid, m] of this.openMigrations) if (now - m.since > timeout) this.openMigrations.delete(uuid);
    const vms: VmSnapshot[] = [...this.vms.values()].map((v) => this.vmSnapshot(v, now));
    const used = vms.reduce((sum, vm) => sum + vm.cpuUtil * vm.vcpus, 0);
    return {
      host: this.opts.host,
      at: now,
      periodMs: this.opts.periodMs,
      ...(this.power ? { power: sample(this.power, now) } : {}),
      budget: effectiveBudget({
        leaderConnected: this.leaderConnected,
        ...(this.leaderWatts === undefined ? {} : { leaderWatts: this.leaderWatts }),
        ...(this.leaderContactAt === undefined ? {} : { leaderContactAt: this.leaderContactAt }),
        ...(this.opts.budget.configWatts === undefined ? {} : { configWatts: this.opts.budget.configWatts }),
      }, now, this.opts.budget),
      cpuUtil: this.hostUtil ?? Math.min(1, used / Math.max(1, this.opts.cpus)),
      cpus: this.opts.cpus,
      frequency: this.frequency,
      ...(this.powerLimit ? { powerLimit: this.powerLimit } : {}),
      ...(this.opts.powerModel ? { powerModel: this.opts.powerModel } : {}),
      reliability: this.reliability,
      leaderConnected: this.leaderConnected,
      vms,
    };
  }

  private vmSnapshot(v: VmState, now: number): VmSnapshot {
    while (v.violations.length > 0 && (v.violations[0] as number) <= now - this.gate.violationWindowMs) v.violations.shift();
    return {
      uuid: v.info.uuid,
      ...(v.info.name === undefined ? {} : { name: v.info.name }),
      vcpus: v.info.vcpus,
      cpuUtil: v.info.cpuUtil,
      sla: { status: v.status, slack: v.slack, violations: v.violations.length, ...(v.reportedAt === undefined ? {} : { reportedAt: v.reportedAt }) },
      scheduler: v.info.scheduler ?? {},
      migrationOpen: isOpen(this.openMigrations.get(v.info.uuid)?.state),
    };
  }

  private drop(counter: 'rate' | 'invalid' | 'unknownVm', reason: 'rate' | 'invalid' | 'unknown-vm', problem: string): ReportVerdict {
    this.counters[counter]++;
    return { accepted: false, reason, problem };
  }
}

/** sending: decided, send under way; open: sent, no answer yet; answered: answered while sending. */
type MigrationState = 'sending' | 'open' | 'answered';

function isOpen(st: MigrationState | undefined): boolean {
  return st === 'sending' || st === 'open';
}

function sample(r: PowerReading, now: number): PowerSample {
  return { watts: r.watts, ageMs: Math.max(r.ageMs, now - r.timestamp), stale: r.stale, source: r.source };
}

/** What is wrong with a report, or undefined. Reports come from untrusted guests. */
function checkReport(r: SlaReportInput): string | undefined {
  if (typeof r !== 'object' || r === null) return 'expected an object {status, slack?}';
  if (r.status !== 'ok' && r.status !== 'violated') return `status: expected "ok" or "violated", got ${JSON.stringify(r.status)?.slice(0, 40)}`;
  if (r.slack !== undefined && !(typeof r.slack === 'number' && Number.isFinite(r.slack) && r.slack >= -1 && r.slack <= 1)) return `slack: expected a number in [-1, 1], got ${String(r.slack).slice(0, 40)}`;
  return undefined;
}
