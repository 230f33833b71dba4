// The operator's actions on the leader (LeaderApi): cluster budget, placement of a new VM, an
// ordered migration, drain / undrain. Each one answers what it did or, with dryRun, what it would
// do against the current state, changing nothing. The cluster budget set at runtime is stored
// (table leader_cluster_budget, never pruned) and wins over the configured one when the leader
// starts again; each change is journaled in the budgets table (key CLUSTER_BUDGET_KEY, the
// change as its reason; pruned with the budget history). Decisions come from the domain (placeVm,
// destinationSearch, splitBudget); this file checks the request, journals and carries them out.
import { randomUUID } from 'node:crypto';
import { Counter } from 'prom-client';
import { checkCreateXml, type CheckedCreateXml } from '../../adapters/libvirt/vm-meta.js';
import { trustRank, type VmRequest } from '../../domain/cluster.js';
import { buildIndex } from '../../domain/leader/index.js';
import { destinationSearch, migrateDecision } from '../../domain/leader/moves.js';
import { describeRejections, placeVm } from '../../domain/leader/placement.js';
import type { ActionAnswer, DecisionView, PlaceAnswer, PlaceRequest } from './api.js';
import { budgetDecision, computeSplit } from './budgets.js';
import { Creations } from './creations.js';
import { ErrorCodes, isVmanageError } from '../../domain/errors.js';
import type { LeaderCommand } from '../../protocol/leader.js';
import { dryRunView } from './decisions.js';
import type { LeaderCore } from './leader.js';

/** Budgets-table key of the cluster budget: '' is no host's name (host names have 1..64 characters). */
export const CLUSTER_BUDGET_KEY = '';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function refused(reason: string, dryRun: boolean): ActionAnswer {
  return { done: false, dryRun, reason, decisions: [] };
}

export class Operations {
  private creationCounter: Counter<'outcome'> | undefined;
  /** VMs created (or maybe created) on the leader's placement that no host lists yet. */
  readonly creations: Creations;

  constructor(private readonly l: LeaderCore) {
    this.restoreClusterBudget();
    this.creations = new Creations({
      table: l.table, decisions: l.decisionLog, clock: l.clock, log: l.log.child({ part: 'creations' }),
      resolved: (r) => this.creationsCounter.inc({ outcome: r }), lostAfterMs: l.cfg.failure.creationLostMs,
    });
    // A new leader cannot know what this one was waiting for: it follows nothing (docs/leader.md).
    l.events.on('role', (r) => { if (r.role !== 'leader') this.creations.drop(`no longer leading (${r.role})`); });
  }

  /** The last cluster budget set at runtime, if any, replaces the configured one. */
  private restoreClusterBudget(): void {
    const l = this.l;
    const last = l.store.clusterBudget();
    if (!last) return;
    if (!(Number.isFinite(last.watts) && last.watts > 0 && last.watts <= 1e9)) {
      l.log.warn({ watts: last.watts }, 'stored cluster budget unusable: the configured one applies');
      return;
    }
    l.log.info({ event: 'leader.cluster-budget-restored', watts: last.watts, setAt: last.at, configured: l.cfg.cluster.budgetWatts }, `cluster budget ${last.watts} W (set at runtime; configured ${l.cfg.cluster.budgetWatts} W)`);
    l.clusterBudgetWatts = last.watts;
  }

  private notLeading(): string | undefined {
    return this.l.token === undefined ? `not the leader; the leader is ${this.l.leaderId ?? 'unknown'}` : undefined;
  }

  setClusterBudget(watts: number, opts: { dryRun: boolean }): ActionAnswer {
    if (typeof watts !== 'number' || !Number.isFinite(watts) || watts <= 0 || watts > 1e9) return refused(`cluster budget: expected a positive number of watts up to 1e9, got ${String(watts)}`, opts.dryRun);
    const l = this.l;
    const lead = this.notLeading();
    if (lead) return refused(lead, opts.dryRun);
    if (opts.dryRun) {
      const now = l.clock.now();
      const s = computeSplit(l.table, watts, l.cfg.params.budget, now);
      const byId = new Map(s.consumers.map((c) => [c.id, c]));
      const decisions = s.changed.map((id) => dryRunView(now, budgetDecision(id, s.budgets.get(id) as number, l.table.get(id)?.budgetWatts ?? 0, byId.get(id), s, 'cluster-budget', `cluster budget ${watts} W`), l.token));
      return { done: true, dryRun: true, reason: `cluster budget ${l.clusterBudgetWatts} W -> ${watts} W would change ${decisions.length} host budget(s)${s.shortfallWatts > 0 ? `; ${s.shortfallWatts.toFixed(0)} W short of the hosts' floors` : ''}`, decisions };
    }
    const before = l.clusterBudgetWatts;
    const now = l.clock.now();
    l.db.transaction(() => {
      l.store.setClusterBudget(watts, now);
      l.store.setBudgets(now, new Map([[CLUSTER_BUDGET_KEY, watts]]), `cluster budget ${before} W -> ${watts} W (operator)`);
    })();
    l.clusterBudgetWatts = watts;
    const since = l.decisionLog.list({ limit: 1 })[0]?.id ?? 0;
    const s = l.split('cluster-budget', `cluster budget set to ${watts} W`);
    const decisions = l.decisionLog.list({ limit: 10_000 }).filter((d) => d.id > since);
    l.log.info({ event: 'leader.cluster-budget', from: before, to: watts }, `cluster budget ${before} W -> ${watts} W`);
    return { done: true, dryRun: false, reason: `cluster budget ${before} W -> ${watts} W; ${decisions.length} host budget(s) changed${s && s.shortfallWatts > 0 ? `; ${s.shortfallWatts.toFixed(0)} W short of the hosts' floors` : ''}`, decisions };
  }

  /**
   * Chooses a host for a new VM and journals the decision (place-vm). With `create` the chosen
   * host is sent leader.command create-vm (the XML, the SLA class, minReliability, minTrust)
   * and the decision's outcome becomes `created` (actual: host, vm, name) or `failed` (actual:
   * host, error: the host's or libvirt's answer), or `unknown` when the host did not answer in
   * time; it is `creating` while the host works on it. An `unknown` one is reconciled later
   * (creations.ts): `created` when a host lists the VM, `lost` past failure.creationLostMs.
   */
  async place(req: PlaceRequest, opts: { dryRun: boolean }): Promise<PlaceAnswer> {
    const l = this.l;
    const problems = placeProblems(req);
    const xml = req.xml !== undefined || req.create === true ? this.checkXml(req, problems) : undefined;
    if (problems.length > 0) {
      if (xml !== undefined || req.create === true) this.creationsCounter.inc({ outcome: 'invalid' });
      return { placed: false, reason: `invalid request: ${problems.join('; ')}`, dryRun: opts.dryRun };
    }
    const lead = this.notLeading();
    if (lead) return { placed: false, reason: lead, dryRun: opts.dryRun };
    if (req.create === true && !opts.dryRun && this.creations.full) {
      this.creationsCounter.inc({ outcome: 'too-many-unknown' });
      return { placed: false, reason: `${this.creations.pendingCount} VM creations have no known outcome yet (the most the leader follows): try again when they resolve`, dryRun: false };
    }
    const now = l.clock.now();
    const util = req.cpuUtil ?? 0.5;
    const create = req.create === true && xml !== undefined;
    const vm: VmRequest = {
      uuid: xml?.uuid ?? randomUUID(), vcpus: req.vcpus, memoryMiB: req.memoryMiB, cpuUtil: util, cpuPeak: util, sla: req.slaClass ?? 'silver',
      minReliability: req.minReliability ?? 0, minTrust: req.minTrust ?? 'untrusted',
      ...(req.affinityGroup !== undefined ? { affinityGroup: req.affinityGroup } : {}), ...(req.antiAffinityGroup !== undefined ? { antiAffinityGroup: req.antiAffinityGroup } : {}),
    };
    const r = placeVm(buildIndex(this.creations.withHeld(l.table.clusterState(now), now)), vm, l.cfg.params.placement);
    if (!r.ok) {
      if (create) this.creationsCounter.inc({ outcome: 'no-host' });
      return { placed: false, reason: r.reason, dryRun: opts.dryRun, vm: vm.uuid };
    }
    const host = r.chosen.load.host.id;
    const name = req.name ?? xml?.name;
    const d = {
      kind: 'place-vm' as const, target: vm.uuid, value: 0, to: host, policy: 'leader-placement',
      reason: { code: 'placed', text: r.reason }, predicted: { watts: Math.round(r.chosen.wattsAfter * 10) / 10, destUtil: Math.round(r.chosen.utilAfter * 1000) / 1000 },
      inputs: {
        vcpus: vm.vcpus, memoryMiB: vm.memoryMiB, cpuUtil: util, sla: vm.sla, minTrust: vm.minTrust, minReliability: vm.minReliability, considered: r.considered,
        score: Math.round(r.chosen.score * 1000) / 1000, ...(name !== undefined ? { name } : {}), ...(create ? { create: true } : {}),
      },
    };
    if (opts.dryRun) return { placed: true, host, reason: create ? `would create ${name ?? vm.uuid} on ${r.reason}` : r.reason, decision: dryRunView(now, d, l.token), dryRun: true, vm: vm.uuid };
    const outcome = l.cfg.dryRun ? 'dry-run' : create ? 'creating' : 'decided';
    const decision = l.decisionLog.record(now, d, l.token, outcome);
    if (!create || l.cfg.dryRun || xml === undefined) return { placed: true, host, reason: r.reason, decision, dryRun: false, vm: vm.uuid };
    const answer = await this.createOn(host, decision.id, xml, vm);
    // No answer in time: the host may still create it (its next update will list it).
    const end = answer.done ? 'created' : answer.silent === true ? 'unknown' : 'failed';
    this.creationsCounter.inc({ outcome: end });
    const actual = { host, vm: answer.vm ?? vm.uuid, name: xml.name, ...(answer.done ? {} : { error: answer.reason ?? 'refused' }) };
    l.decisionLog.outcome(decision.id, end, l.clock.now(), actual);
    const creation = { decisionId: decision.id, vm: { ...vm, host }, name: xml.name, decidedAt: now };
    if (answer.done) this.creations.created(creation);
    else if (end === 'unknown' && this.notLeading() === undefined) this.creations.unknown(creation);
    const reason = answer.done ? `created ${xml.name} (${vm.uuid}) on ${r.reason}` : `placed on ${host}, but the VM was not created: ${answer.reason ?? 'refused'}`;
    return { placed: true, host, reason, decision: l.decisionLog.view(decision.id) ?? decision, dryRun: false, created: answer.done, vm: vm.uuid };
  }

  /** Counts create requests by outcome (invalid, no-host, too-many-unknown, created, failed,
   *  unknown) and the later resolution of the unknown ones (created-late, lost); registered on first use. */
  private get creationsCounter(): Counter<'outcome'> {
    this.creationCounter ??= new Counter({ name: 'vmanage_leader_vm_creations_total', help: 'place with create, by outcome (invalid: refused request or XML)', labelNames: ['outcome'], registers: [this.l.registry] });
    return this.creationCounter;
  }

  /** The request's XML, checked (problems added, undefined when unusable). */
  private checkXml(req: PlaceRequest, problems: string[]): CheckedCreateXml | undefined {
    if (req.xml === undefined) {
      problems.push('create: needs xml (the domain XML to define)');
      return undefined;
    }
    let x: CheckedCreateXml;
    try {
      x = checkCreateXml(req.xml);
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
      return undefined;
    }
    if (x.vcpus !== req.vcpus) problems.push(`vcpus ${req.vcpus} does not match the XML's <vcpu> ${x.vcpus}`);
    if (x.memoryMiB !== req.memoryMiB) problems.push(`memoryMiB ${req.memoryMiB} does not match the XML's <memory> (${x.memoryMiB} MiB)`);
    if (req.name !== undefined && req.name !== x.name) problems.push(`name ${JSON.stringify(req.name)} does not match the XML's <name> ${JSON.stringify(x.name)}`);
    const holder = this.l.table.hostOfVm(x.uuid);
    if (holder) problems.push(`xml: <uuid> ${x.uuid} is already a VM on host ${holder.id}`);
    const making = holder ? undefined : this.creations.inFlight(x.uuid);
    if (making) problems.push(`xml: <uuid> ${x.uuid} is being created on host ${making.vm.host} (decision ${making.decisionId}${making.pending ? ', outcome unknown so far' : ''})`);
    return x;
  }

  /** Sends create-vm to `host` and waits for its answer (a lost session or timeout is a failure). */
  private async createOn(hostId: string, decisionId: number, xml: CheckedCreateXml, vm: VmRequest): Promise<{ done: boolean; reason?: string; vm?: string; silent?: boolean }> {
    const l = this.l;
    const h = l.table.get(hostId);
    const token = l.token;
    if (!h?.channel || token === undefined) return { done: false, reason: `host ${hostId} has no session with this leader` };
    const cmd: LeaderCommand = {
      token, op: 'create-vm', xml: xml.xml, decisionId, slaClass: vm.sla,
      ...(vm.minReliability > 0 ? { minReliability: vm.minReliability } : {}), ...(vm.minTrust !== 'untrusted' ? { minTrust: vm.minTrust } : {}),
    };
    let reply: { done: boolean; reason?: string; vm?: string; silent?: boolean };
    try {
      reply = await l.command(h, cmd);
    } catch (err) {
      const silent = isVmanageError(err, ErrorCodes.RequestTimeout);
      reply = { done: false, silent, reason: `${silent ? 'no answer' : 'the command failed'} from ${hostId}: ${err instanceof Error ? err.message : String(err)}${silent ? '; the VM may still be created' : ''}` };
    }
    l.log[reply.done ? 'info' : 'warn']({ event: 'leader.vm-create', host: hostId, vm: vm.uuid, name: xml.name, decisionId, done: reply.done, reason: reply.reason }, `VM ${xml.name} ${reply.done ? 'created' : 'not created'} on ${hostId}`);
    if (reply.done) l.command(h, { token, op: 'update-now' }).catch(() => undefined); // the next placement sees the VM
    return reply;
  }

  async migrate(vm: string, to: string | undefined, opts: { dryRun: boolean }): Promise<ActionAnswer> {
    const l = this.l;
    if (typeof vm !== 'string' || !UUID.test(vm)) return refused(`vm: expected a UUID, got ${JSON.stringify(vm)}`, opts.dryRun);
    const lead = this.notLeading();
    if (lead) return refused(lead, opts.dryRun);
    const src = l.table.hostOfVm(vm);
    if (!src || src.liveness !== 'up') return refused(`VM ${vm} is not on any host that is up`, opts.dryRun);
    const going = l.tracker.migratingTo(vm);
    if (going !== undefined) return refused(`VM ${vm} is already migrating to ${going}`, opts.dryRun);
    if (to !== undefined) {
      const dst = l.table.get(to);
      if (!dst) return refused(`unknown host ${to}`, opts.dryRun);
      if (dst.id === src.id) return refused(`VM ${vm} already runs on ${to}`, opts.dryRun);
      if (dst.liveness !== 'up') return refused(`host ${to} is lost`, opts.dryRun);
      if (dst.reg.migrationUri === undefined) return refused(`host ${to} registered no migration URI: it takes no migrated VM`, opts.dryRun);
    }
    const now = l.clock.now();
    const p = l.cfg.params.migration;
    const index = buildIndex(l.planner.stateForMigration(now));
    const load = index.byHost.get(src.id);
    const cvm = load?.vms.find((v) => v.uuid === vm);
    if (!load || !cvm) return refused(`VM ${vm} is not in the planning state`, opts.dryRun);
    const others = new Set(index.loads.map((x) => x.host.id).filter((id) => to !== undefined && id !== to));
    const found = destinationSearch(index, cvm, load, l.planner.ledger, () => false, now, p, others);
    if (!found.ok) return refused(`no destination${to !== undefined ? ` (${to})` : ''} for ${vm} passes the placement filters and the no-return rule (hosts refused: ${describeRejections(found.rejections)})`, opts.dryRun);
    const dest = found.chosen;
    const d = migrateDecision(cvm, load, dest, p, 'operator', 'operator asked');
    if (opts.dryRun) return { done: true, dryRun: true, reason: d.reason.text, decisions: [dryRunView(now, d, l.token)] };
    const view = l.decisionLog.record(now, d, l.token, l.cfg.dryRun ? 'dry-run' : undefined);
    if (!l.cfg.dryRun) await l.tracker.start(view.id, d);
    return { done: true, dryRun: false, reason: d.reason.text, decisions: [l.decisionLog.view(view.id) ?? view] };
  }

  /** Aborts running migration `id` (undefined: no such migration). */
  async abortMigration(id: number, opts: { dryRun: boolean }): Promise<ActionAnswer | undefined> {
    const l = this.l;
    if (!Number.isSafeInteger(id) || id < 0) return undefined;
    const lead = this.notLeading();
    if (lead) return refused(lead, opts.dryRun);
    const r = await l.tracker.abort(id, opts.dryRun);
    if (!r) return undefined;
    const d = r.decisionId !== undefined ? l.decisionLog.view(r.decisionId) : undefined;
    return { done: r.done, dryRun: opts.dryRun, reason: r.reason, decisions: d ? [d] : [] };
  }

  async drain(hostId: string, opts: { dryRun: boolean }, on: boolean): Promise<ActionAnswer> {
    const l = this.l;
    const h = l.table.get(hostId);
    if (!h) return refused(`unknown host ${String(hostId)}`, opts.dryRun);
    const lead = this.notLeading();
    if (lead) return refused(lead, opts.dryRun);
    const want = on ? 'draining' : 'on';
    const from = on ? 'on' : 'draining';
    if (h.state !== from) return refused(`host ${hostId} is ${h.state}: only a host that is ${from} can be ${on ? 'drained' : 'undrained'}`, opts.dryRun);
    if (opts.dryRun) {
      const plan = on ? `${h.vms.size} VM(s) would be moved away under the stability rules` : 'it would take VMs again';
      return { done: true, dryRun: true, reason: `host ${hostId} would be ${want}; ${plan}`, decisions: [] };
    }
    const now = l.clock.now();
    h.state = want;
    h.stateSince = now;
    l.store.updateHost(hostId, now, { state: want });
    l.log.info({ event: on ? 'leader.drain' : 'leader.undrain', host: hostId }, `host ${hostId} ${want}`);
    l.events.emit('host', l.table.view(h));
    let decisions: readonly DecisionView[] = [];
    if (on) decisions = (await l.planner.pass({ dryRun: false })).decisions.filter((d) => d.from === hostId);
    return { done: true, dryRun: false, reason: `host ${hostId} is ${want}${on ? `; ${decisions.length} migration(s) started, the rest follow in the next passes` : ''}`, decisions };
  }
}

function placeProblems(r: PlaceRequest): string[] {
  const p: string[] = [];
  const int = (path: string, x: unknown, max: number): void => {
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 1 || x > max) p.push(`${path}: expected an integer 1..${max}, got ${String(x)}`);
  };
  const frac = (path: string, x: unknown): void => {
    if (x !== undefined && (typeof x !== 'number' || !(x >= 0 && x <= 1))) p.push(`${path}: expected a number 0..1, got ${String(x)}`);
  };
  int('vcpus', r.vcpus, 4096);
  int('memoryMiB', r.memoryMiB, 2 ** 40);
  frac('cpuUtil', r.cpuUtil);
  frac('minReliability', r.minReliability);
  if (r.slaClass !== undefined && !['gold', 'silver', 'bronze'].includes(r.slaClass)) p.push(`slaClass: expected gold, silver or bronze, got ${String(r.slaClass)}`);
  if (r.minTrust !== undefined && trustRank(r.minTrust) < 0) p.push(`minTrust: expected untrusted, standard, trusted or attested, got ${String(r.minTrust)}`);
  return p;
}
