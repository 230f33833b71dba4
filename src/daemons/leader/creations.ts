// The leader's VM creations between its create-vm command and the host's updates listing the VM.
// - `created` (the host answered done): the VM is held in the placement view on its host until
//   a host lists it, at most CREATED_HOLD_MS (a host's update may lag the creation).
// - `unknown` (no answer within failure.commandTimeoutMs): the host may still create it. The
//   creation is pending (bounded: maxPending) and held in the placement view on the chosen host
//   until it resolves: when any host's update lists the VM the decision's outcome becomes
//   `created` (actual: that host, lateMs after the decision, chosenHost when another host has
//   it); past the deadline (failure.creationLostMs after the decision) it becomes `lost`.
// - Losing leadership drops both sets: a new leader cannot know them (docs/leader.md).
// Per host update: nothing while no creation is pending; else min(pending, host's VMs) lookups.
// Units: ms since the Unix epoch.
import type { Logger } from 'pino';
import type { ClusterState, ClusterVm } from '../../domain/cluster.js';
import type { Clock, TimerHandle } from '../../domain/clock.js';
import type { DecisionLog } from './decisions.js';
import type { HostTable, LiveHost } from './hosts.js';

/** How long a created VM counts on its host before a host reports it, ms. */
export const CREATED_HOLD_MS = 120_000;
/** Default bound of the pending set (creations with an unknown outcome). */
export const MAX_PENDING_CREATIONS = 1000;

export type CreationResolution = 'created-late' | 'lost';

export interface CreationsDeps {
  readonly table: Pick<HostTable, 'hostOfVm'>;
  readonly decisions: Pick<DecisionLog, 'outcome'>;
  readonly clock: Clock;
  readonly log: Logger;
  /** An unknown creation resolved (the caller counts it). */
  readonly resolved: (r: CreationResolution) => void;
  /** An unknown creation with no host listing its VM this long after the decision is lost, ms. */
  readonly lostAfterMs: number;
  readonly maxPending?: number;
}

/** A creation the leader journaled, as the placement view and the reconciliation need it. */
export interface Creation {
  readonly decisionId: number;
  /** The VM as placed (host: the chosen host). */
  readonly vm: ClusterVm;
  readonly name: string;
  /** When the decision was journaled, ms. */
  readonly decidedAt: number;
}

interface Held extends Creation { readonly until: number }

export class Creations {
  /** Answered created, until a host lists the VM or `until`. */
  private readonly held = new Map<string, Held>();
  /** Outcome unknown, until a host lists the VM (created) or `until` (lost). */
  private readonly pending = new Map<string, Held>();
  private timer: { readonly at: number; readonly handle: TimerHandle } | undefined;
  private readonly maxPending: number;

  constructor(private readonly d: CreationsDeps) {
    this.maxPending = d.maxPending ?? MAX_PENDING_CREATIONS;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** No room for another unknown creation (new creations are refused until some resolve). */
  get full(): boolean {
    return this.pending.size >= this.maxPending;
  }

  /** The creation of VM `uuid` not yet listed by any host (answered or pending), if any. */
  inFlight(uuid: string): (Creation & { readonly pending: boolean }) | undefined {
    const p = this.pending.get(uuid);
    if (p) return { ...p, pending: true };
    const h = this.held.get(uuid);
    return h ? { ...h, pending: false } : undefined;
  }

  /** The host answered done: the VM counts on it until listed (at most CREATED_HOLD_MS). */
  created(c: Creation): void {
    this.held.set(c.vm.uuid, { ...c, until: this.d.clock.now() + CREATED_HOLD_MS });
  }

  /**
   * The host did not answer in time (the decision's outcome is `unknown`): pending until a host
   * lists the VM or the deadline. A VM some host lists already resolves at once. Returns false
   * when the pending set is full (the outcome then stays unknown; logged).
   */
  unknown(c: Creation): boolean {
    const now = this.d.clock.now();
    const at = this.d.table.hostOfVm(c.vm.uuid);
    const entry = { ...c, until: c.decidedAt + this.d.lostAfterMs };
    if (at) {
      this.appeared(entry, at, now);
      return true;
    }
    if (this.full) {
      this.d.log.warn({ event: 'leader.vm-create-untracked', decisionId: c.decisionId, vm: c.vm.uuid, pending: this.pending.size }, `VM ${c.name}: outcome unknown and not reconciled: ${this.pending.size} creations pending already`);
      return false;
    }
    this.pending.set(c.vm.uuid, entry);
    this.schedule(entry.until);
    return true;
  }

  /** Host `h` sent an update (its VMs are in h.vms): pending creations it lists are created. */
  seen(h: LiveHost): void {
    if (this.pending.size === 0) return;
    const now = this.d.clock.now();
    if (this.pending.size <= h.vms.size) {
      for (const [uuid, p] of this.pending) if (h.vms.has(uuid)) this.appeared(p, h, now);
      return;
    }
    for (const uuid of h.vms.keys()) {
      const p = this.pending.get(uuid);
      if (p) this.appeared(p, h, now);
    }
  }

  /** The state with the VMs created or pending that no host lists yet, on their chosen host when
   *  the state has it (a lost host is left out of the state, and so are the VMs held on it). */
  withHeld(s: ClusterState, now: number): ClusterState {
    if (this.held.size === 0 && this.pending.size === 0) return s;
    for (const [uuid, c] of this.held) if (c.until <= now || this.d.table.hostOfVm(uuid)) this.held.delete(uuid);
    if (this.held.size === 0 && this.pending.size === 0) return s;
    const hosts = new Set(s.hosts.map((h) => h.id));
    const extra: ClusterVm[] = [];
    for (const c of this.held.values()) if (hosts.has(c.vm.host)) extra.push(c.vm);
    for (const c of this.pending.values()) if (hosts.has(c.vm.host)) extra.push(c.vm);
    return extra.length === 0 ? s : { ...s, vms: [...s.vms, ...extra] };
  }

  /** Leadership lost: nothing here is followed any more (the outcomes stay as journaled). */
  drop(reason: string): void {
    this.timer?.handle.cancel();
    this.timer = undefined;
    if (this.pending.size > 0) {
      const decisions = [...this.pending.values()].map((p) => p.decisionId);
      this.d.log.warn({ event: 'leader.vm-creations-dropped', decisions, reason }, `${decisions.length} VM creation(s) of unknown outcome no longer followed: ${reason}`);
    }
    this.pending.clear();
    this.held.clear();
  }

  private appeared(p: Held, h: LiveHost, now: number): void {
    this.pending.delete(p.vm.uuid);
    const lateMs = now - p.decidedAt;
    const elsewhere = h.id !== p.vm.host;
    const actual = { host: h.id, vm: p.vm.uuid, name: p.name, lateMs, ...(elsewhere ? { chosenHost: p.vm.host } : {}) };
    this.d.decisions.outcome(p.decisionId, 'created', now, actual);
    this.d.resolved('created-late');
    const where = elsewhere ? `on ${h.id}, not on the chosen ${p.vm.host}` : `on ${h.id}`;
    this.d.log[elsewhere ? 'warn' : 'info']({ event: 'leader.vm-created-late', decisionId: p.decisionId, vm: p.vm.uuid, host: h.id, chosenHost: p.vm.host, lateMs }, `VM ${p.name} created ${where}: listed ${lateMs} ms after the decision (no answer in time)`);
  }

  private expire(): void {
    this.timer = undefined;
    const now = this.d.clock.now();
    let next = Infinity;
    for (const p of this.pending.values()) {
      if (p.until > now) {
        next = Math.min(next, p.until);
        continue;
      }
      this.pending.delete(p.vm.uuid);
      const error = `no answer from ${p.vm.host}, and no host listed the VM within ${this.d.lostAfterMs} ms of the decision`;
      this.d.decisions.outcome(p.decisionId, 'lost', now, { host: p.vm.host, vm: p.vm.uuid, name: p.name, error });
      this.d.resolved('lost');
      this.d.log.warn({ event: 'leader.vm-create-lost', decisionId: p.decisionId, vm: p.vm.uuid, host: p.vm.host }, `VM ${p.name} lost: ${error}`);
    }
    if (next !== Infinity) this.schedule(next);
  }

  /** One timer, at the earliest deadline. */
  private schedule(at: number): void {
    if (this.timer && this.timer.at <= at) return;
    this.timer?.handle.cancel();
    const handle = this.d.clock.setTimer(Math.max(0, at - this.d.clock.now()), () => {
      try {
        this.expire();
      } catch (err) {
        this.d.log.error({ err }, 'VM creation deadlines: check failed');
      }
    });
    this.timer = { at, handle };
  }
}
