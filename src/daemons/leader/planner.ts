// Planning passes: host migration requests, the periodic audit and consolidation (domain
// planMigrations with the MigrationLedger), plus the moves that empty draining hosts, then each
// decision journaled and carried out: migrations through the tracker, power-off as a command to
// the (empty) host, power-on through the host's BMC chassis control when one is configured.
// Passes run one at a time. Hosts that registered no migration URI take no migrated VM: the
// planner sees them as draining (no new VM), which they are for migrations.
import type { ClusterState, LeaderDecision } from '../../domain/cluster.js';
import { ErrorCodes, isVmanageError } from '../../domain/errors.js';
import { moveVm, type ClusterIndex } from '../../domain/leader/cluster-index.js';
import type { MigrationPolicy } from '../../domain/leader/index.js';
import type { MigrationRequest } from '../../domain/leader/migration.js';
import { PassLimits, destinationFor, migrateDecision } from '../../domain/leader/moves.js';
import { createBmc } from '../../adapters/power/ipmi-bmc.js';
import type { ActionAnswer, DecisionView } from './api.js';
import { dryRunView } from './decisions.js';
import type { LiveHost } from './hosts.js';
import type { LeaderCore } from './leader.js';

const MAX_QUEUED_REQUESTS = 1024;

export class Planner {
  private queue: MigrationRequest[] = [];
  private chain: Promise<unknown> = Promise.resolve();
  /** A real pass queued behind the running one, not started yet. */
  private waiting: Promise<ActionAnswer> | undefined;
  /** Host id -> the power-off decision waiting for the host to go. */
  private readonly poweringOff = new Map<string, number>();
  /** Requests dropped because the queue was full. */
  droppedRequests = 0;

  constructor(private readonly l: LeaderCore, private readonly policy: MigrationPolicy) {}

  get ledger(): MigrationPolicy['ledger'] {
    return this.policy.ledger;
  }

  /** A host asks for `vm` to be moved: queued, then a pass runs; the answer says whether it moves. */
  async request(req: MigrationRequest, why: string): Promise<{ accepted: boolean; reason?: string }> {
    const host = this.l.table.get(req.host);
    if (!host?.vms.has(req.vm)) return { accepted: false, reason: `VM ${req.vm} is not listed on ${req.host} (send a host.update first)` };
    const to = this.l.tracker.migratingTo(req.vm);
    if (to !== undefined) return { accepted: false, reason: `VM ${req.vm} is already migrating to ${to}` };
    if (this.queue.length >= MAX_QUEUED_REQUESTS) {
      this.droppedRequests++;
      return { accepted: false, reason: 'too many migration requests queued' };
    }
    this.l.log.info({ event: 'leader.migration-request', host: req.host, vm: req.vm, shedWatts: req.shedWatts, reason: why }, `host ${req.host} asks to move ${req.vm}`);
    this.queue.push(req);
    const ans = await this.pass({ dryRun: false });
    const d = ans.decisions.find((x) => x.kind === 'migrate-vm' && x.target === req.vm);
    if (d) return { accepted: true, reason: d.reason.text.slice(0, 1024) };
    const blocked = this.ledger.vmBlocked(req.vm, this.l.clock.now(), this.l.cfg.params.migration.stability);
    return { accepted: false, reason: blocked ? `VM ${req.vm} may not move now (${blocked})` : `no destination for ${req.vm} passes the filters and stability rules` };
  }

  /**
   * One pass now (after any running one). Real passes asked for while one is waiting to start
   * share it: a burst of host requests costs one pass after the running one, not one each.
   */
  pass(opts: { dryRun: boolean }): Promise<ActionAnswer> {
    if (!opts.dryRun && this.waiting) return this.waiting;
    const next = this.chain.then(() => {
      if (!opts.dryRun) this.waiting = undefined;
      return this.run(opts);
    });
    if (!opts.dryRun) this.waiting = next;
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** The cluster for migration planning: hosts without a migration URI take no migrated VM. */
  stateForMigration(now: number): ClusterState {
    const s = this.l.table.clusterState(now);
    return {
      ...s,
      hosts: s.hosts.map((h) => (h.state === 'on' && this.l.table.get(h.id)?.reg.migrationUri === undefined ? { ...h, state: 'draining' as const } : h)),
    };
  }

  private run(opts: { dryRun: boolean }): ActionAnswer {
    const l = this.l;
    const token = l.token;
    if (token === undefined) return { done: false, dryRun: opts.dryRun, reason: `not the leader; the leader is ${l.leaderId ?? 'unknown'}`, decisions: [] };
    const now = l.clock.now();
    const requests = opts.dryRun ? [...this.queue] : this.queue.splice(0);
    const p = l.cfg.params.migration;
    const plan = this.policy.plan(this.stateForMigration(now), requests, p);
    const decisions = [...plan.decisions, ...this.drainMoves(plan.index, plan.decisions, now)];
    if (opts.dryRun) {
      return { done: true, dryRun: true, reason: summary(decisions, plan.stats), decisions: decisions.map((d) => dryRunView(now, d, token)) };
    }
    const views: DecisionView[] = [];
    for (const d of decisions) {
      const view = l.decisionLog.record(now, d, token, l.cfg.dryRun ? 'dry-run' : undefined);
      views.push(view);
      if (!l.cfg.dryRun) this.execute(view.id, d);
    }
    if (decisions.length > 0 || requests.length > 0) l.log.info({ event: 'leader.plan', decisions: decisions.length, requests: requests.length, ...plan.stats }, summary(decisions, plan.stats));
    this.ledger.prune(now, p.stability);
    return { done: true, dryRun: false, reason: summary(decisions, plan.stats), decisions: views };
  }

  /** Moves off draining hosts (the operator's drain), within the pass's concurrency limits. */
  private drainMoves(index: ClusterIndex, planned: readonly LeaderDecision[], now: number): LeaderDecision[] {
    const p = this.l.cfg.params.migration;
    const limits = new PassLimits(this.ledger, p);
    for (const d of planned) if (d.kind === 'migrate-vm' && d.from !== undefined && d.to !== undefined) limits.take(d.from, d.to);
    const out: LeaderDecision[] = [];
    for (const load of index.loads) {
      if (this.l.table.get(load.host.id)?.state !== 'draining') continue;
      for (const vm of [...load.vms]) {
        if (limits.clusterFull() || limits.hostFull(load.host.id)) break;
        if (this.ledger.vmBlocked(vm.uuid, now, p.stability) !== undefined) continue;
        const dest = destinationFor(index, vm, load, this.ledger, (id) => limits.hostFull(id), now, p);
        if (!dest) continue;
        out.push(migrateDecision(vm, load, dest, p, 'drain', `host ${load.host.id} is draining`));
        limits.take(load.host.id, dest.load.host.id);
        moveVm(index, load, dest.load, vm.uuid);
      }
    }
    return out;
  }

  private execute(id: number, d: LeaderDecision): void {
    if (d.kind === 'migrate-vm') void this.l.tracker.start(id, d).catch((err: unknown) => this.l.log.error({ err, id }, 'starting a migration failed'));
    else if (d.kind === 'power-off-host') void this.powerOff(id, d.target);
    else if (d.kind === 'power-on-host') void this.powerOn(id, d.target);
  }

  private setState(h: LiveHost, state: LiveHost['state']): void {
    const now = this.l.clock.now();
    if (h.state !== state) h.stateSince = now;
    h.state = state;
    this.l.store.updateHost(h.id, now, { state });
    this.l.events.emit('host', this.l.table.view(h));
  }

  private async powerOff(id: number, hostId: string): Promise<void> {
    const l = this.l;
    const h = l.table.get(hostId);
    const token = l.token;
    const now = l.clock.now();
    if (!h || token === undefined) return l.decisionLog.outcome(id, 'refused', now, { error: 'unknown host or not leading' });
    const busy = h.vms.size > 0 || l.tracker.inFlightTouching(hostId);
    if (busy) return l.decisionLog.outcome(id, 'deferred', now, { error: `host ${hostId} still runs or receives VMs: the next pass tries again`, vms: h.vms.size });
    this.setState(h, 'powering-off');
    this.poweringOff.set(hostId, id);
    try {
      const r = await l.command(h, { token, op: 'power-off' });
      if (h.state !== 'powering-off') return; // gone already (its session ended first)
      if (r.done) return l.decisionLog.outcome(id, 'applied', l.clock.now(), { note: 'waiting for the host to go' });
      this.poweringOff.delete(hostId);
      this.setState(h, 'on');
      l.decisionLog.outcome(id, 'refused', l.clock.now(), { error: r.reason ?? 'refused' });
    } catch (err) {
      // The session ending while the command was out is the host going down (its reply may be
      // lost with the session): it is off, not failed.
      if (h.state !== 'powering-off') return;
      if (isVmanageError(err, ErrorCodes.ChannelClosed) || isVmanageError(err, ErrorCodes.PeerDead)) return this.poweredOff(h);
      this.poweringOff.delete(hostId);
      this.setState(h, 'on');
      l.decisionLog.outcome(id, 'failed', l.clock.now(), { error: (err as Error).message });
    }
  }

  /** The host's session ended after a power-off command: it is off. */
  poweredOff(h: LiveHost): void {
    if (h.state !== 'powering-off') return;
    this.setState(h, 'off');
    h.vms.clear();
    const id = this.poweringOff.get(h.id);
    this.poweringOff.delete(h.id);
    if (id !== undefined) this.l.decisionLog.outcome(id, 'succeeded', this.l.clock.now(), { state: 'off' });
    this.l.split('host-off', `host ${h.id} powered off`);
  }

  private async powerOn(id: number, hostId: string): Promise<void> {
    const l = this.l;
    const h = l.table.get(hostId);
    const bmc = l.cfg.hosts[hostId]?.bmc;
    if (!h) return l.decisionLog.outcome(id, 'refused', l.clock.now(), { error: `unknown host ${hostId}` });
    if (!bmc || bmc.protocol !== 'ipmi') {
      l.log.warn({ event: 'leader.power-on-impossible', host: hostId }, `cannot power ${hostId} on: no IPMI BMC configured (hosts.${hostId}.bmc)`);
      return l.decisionLog.outcome(id, 'unsupported', l.clock.now(), { error: 'no IPMI BMC configured for the host' });
    }
    try {
      const chassis = createBmc(bmc, { clock: l.clock }).chassis;
      if (!chassis) throw new Error('the BMC offers no chassis control');
      this.setState(h, 'powering-on');
      await chassis.powerOn();
      l.decisionLog.outcome(id, 'applied', l.clock.now(), { note: 'powered on through the BMC; the host registers when it has booted' });
    } catch (err) {
      this.setState(h, 'off');
      l.decisionLog.outcome(id, 'failed', l.clock.now(), { error: (err as Error).message });
    }
  }
}

function summary(decisions: readonly LeaderDecision[], stats: object): string {
  const kinds = new Map<string, number>();
  for (const d of decisions) kinds.set(d.kind, (kinds.get(d.kind) ?? 0) + 1);
  const parts = [...kinds].map(([k, n]) => `${n} ${k}`);
  return `${parts.length > 0 ? parts.join(', ') : 'no decision'} (${Object.entries(stats).map(([k, v]) => `${k} ${String(v)}`).join(', ')})`;
}
