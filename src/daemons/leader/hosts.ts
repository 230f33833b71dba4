// The leader's live view of its hosts: what each registered (kept in SQLite), and what its last
// host.update said (VMs, measured power, the budget it runs under), its liveness and its channel.
// Registrations and budgets survive a leader restart (LeaderStore); VMs and power come back with
// the hosts' next updates. Builds the ClusterState the policies decide on.
// Units: W, MiB, fractions 0..1, ms since the Unix epoch.
import type { ClusterHost, ClusterState, ClusterVm, HostAttributes, HostPowerState, SlaClass } from '../../domain/cluster.js';
import { hostAttributesOf } from '../../domain/leader/registration.js';
import { UtilWindow } from '../../domain/leader/demand.js';
import type { HostRecord, LeaderStore } from '../../adapters/store/index.js';
import type { Channel } from '../../mchannel/index.js';
import type { HostUpdate } from '../../protocol/leader.js';
import type { HostLiveness, HostView, VmView } from './api.js';
import type { StoredRegistration } from './registration.js';

export interface LiveVm {
  readonly uuid: string;
  name?: string;
  vcpus: number;
  memoryMiB: number;
  cpuUtil: number;
  sla: 'ok' | 'violated' | 'unknown';
  /** From the host's report (the VM's vmanage metadata); absent: silver, 0, untrusted. */
  slaClass?: SlaClass | undefined;
  minReliability?: number | undefined;
  minTrust?: ClusterVm['minTrust'] | undefined;
  readonly window: UtilWindow;
  /** window.peak(), cached until the next sample (the tick, the split and the planner read it). */
  peak?: number | undefined;
  /** Number of the last host.update that listed it (HostTable.update). */
  stamp: number;
}

export interface LiveHost {
  readonly id: string;
  reg: StoredRegistration;
  attrs: HostAttributes;
  state: HostPowerState;
  stateSince: number;
  budgetWatts: number;
  reliability: number;
  liveness: HostLiveness;
  /** Last registration or update, ms. */
  lastSeen: number;
  channel?: Channel;
  measuredWatts?: number;
  /** What the host says it runs under (its budget and where it came from). */
  hostBudgetWatts?: number;
  budgetSource?: string;
  capKHz?: number;
  budgetViolations?: number;
  vms: Map<string, LiveVm>;
}

/** VM attributes a host.update does not carry, until the VM says otherwise. */
const VM_DEFAULTS = { vcpus: 1, memoryMiB: 0, slaClass: 'silver' as SlaClass };

export class HostTable {
  readonly hosts = new Map<string, LiveHost>();
  /** host.updates applied: stamps the VMs each one lists. */
  private updates = 0;

  /** Loads the stored hosts (after a restart): lost until they register again. */
  load(records: readonly HostRecord[], onBad: (id: string, err: unknown) => void): void {
    for (const r of records) {
      try {
        this.hosts.set(r.registration.id, {
          id: r.registration.id, reg: r.registration as StoredRegistration, attrs: hostAttributesOf(r.registration),
          state: r.state, stateSince: r.stateSince, budgetWatts: r.budgetWatts, reliability: r.reliability,
          liveness: 'lost', lastSeen: r.updatedAt, vms: new Map(),
        });
      } catch (err) {
        onBad(r.registration.id, err);
      }
    }
  }

  get(id: string): LiveHost | undefined {
    return this.hosts.get(id);
  }

  /** Records a valid registration (store first, then memory); returns the live host. */
  register(reg: StoredRegistration, attrs: HostAttributes, now: number, store: LeaderStore): LiveHost {
    const floor = Math.max(attrs.floorWatts ?? 0, attrs.powerModel.idleWatts);
    store.upsertHost(reg, now, { budgetWatts: floor, state: 'on', reliability: reg.reliability });
    const known = this.hosts.get(reg.id);
    const rec = store.host(reg.id) as HostRecord;
    // A host that comes back after a power-off (or a power-on we ordered) is on again.
    let state = rec.state;
    if (state === 'off' || state === 'powering-on' || state === 'powering-off') {
      state = 'on';
      store.updateHost(reg.id, now, { state });
    }
    const host: LiveHost = known ?? { id: reg.id, reg, attrs, state, stateSince: now, budgetWatts: rec.budgetWatts, reliability: reg.reliability, liveness: 'up', lastSeen: now, vms: new Map() };
    Object.assign(host, { reg, attrs, state, stateSince: state !== known?.state ? now : host.stateSince, budgetWatts: rec.budgetWatts, reliability: reg.reliability, liveness: 'up', lastSeen: now });
    this.hosts.set(reg.id, host);
    return host;
  }

  /** Applies a host.update; returns the number of duplicate VM entries dropped (bad input). */
  update(host: LiveHost, u: HostUpdate, now: number): number {
    host.lastSeen = now;
    host.liveness = 'up';
    if (u.watts !== undefined) host.measuredWatts = u.watts;
    host.hostBudgetWatts = u.budgetWatts;
    host.budgetSource = u.budgetSource;
    host.capKHz = u.capKHz;
    host.reliability = u.reliability;
    if (u.budgetViolations !== undefined) host.budgetViolations = u.budgetViolations;
    // In place (no new Map per update): each VM listed is stamped with this update's number;
    // a second entry with the stamp already set is a duplicate; VMs not listed are dropped after.
    const stamp = ++this.updates;
    const vms = host.vms;
    let duplicates = 0;
    let listed = 0;
    for (const v of u.vms) {
      let vm = vms.get(v.uuid);
      if (vm?.stamp === stamp) {
        duplicates++;
        continue;
      }
      if (!vm) {
        vm = { uuid: v.uuid, vcpus: VM_DEFAULTS.vcpus, memoryMiB: VM_DEFAULTS.memoryMiB, cpuUtil: 0, sla: 'unknown', window: new UtilWindow(30), stamp };
        vms.set(v.uuid, vm);
      }
      vm.stamp = stamp;
      listed++;
      if (v.name !== undefined) vm.name = v.name;
      if (v.vcpus !== undefined) vm.vcpus = v.vcpus;
      if (v.memoryKiB !== undefined) vm.memoryMiB = Math.floor(v.memoryKiB / 1024);
      vm.cpuUtil = v.cpuUtil;
      vm.sla = v.sla;
      vm.slaClass = v.slaClass;
      vm.minReliability = v.minReliability;
      vm.minTrust = v.minTrust;
      vm.window.push(v.cpuUtil);
      vm.peak = undefined; // computed again when read (UtilWindow.peak: one pass, no sort)
    }
    if (vms.size > listed) for (const [uuid, vm] of vms) if (vm.stamp !== stamp) vms.delete(uuid);
    return duplicates;
  }

  /** Marks hosts silent for longer than timeoutMs as lost (not off ones: they are meant to be
   *  silent); returns those that changed. */
  checkLiveness(now: number, timeoutMs: number): LiveHost[] {
    const changed: LiveHost[] = [];
    for (const h of this.hosts.values()) {
      if (h.liveness === 'up' && h.state !== 'off' && now - h.lastSeen > timeoutMs) {
        h.liveness = 'lost';
        changed.push(h);
      }
    }
    return changed;
  }

  /** Hosts the policies may use: up hosts, plus off / powering hosts (for power-on). */
  private planned(h: LiveHost): boolean {
    return h.liveness === 'up' || h.state === 'off' || h.state === 'powering-on' || h.state === 'powering-off';
  }

  clusterHost(h: LiveHost): ClusterHost {
    return {
      id: h.id, attrs: h.attrs, state: h.state, stateSince: h.stateSince, budgetWatts: h.budgetWatts, reliability: h.reliability,
      ...(h.measuredWatts !== undefined && h.liveness === 'up' ? { measuredWatts: h.measuredWatts } : {}),
    };
  }

  /** The cluster as the policies see it; lost hosts (and their VMs) are left out. */
  clusterState(now: number): ClusterState {
    const hosts: ClusterHost[] = [];
    const vms: ClusterVm[] = [];
    const seen = new Set<string>();
    for (const h of this.hosts.values()) {
      if (!this.planned(h)) continue;
      hosts.push(this.clusterHost(h));
      if (h.liveness !== 'up') continue;
      for (const v of h.vms.values()) {
        if (seen.has(v.uuid)) continue; // reported by two hosts (mid-migration): the first keeps it
        seen.add(v.uuid);
        vms.push({
          uuid: v.uuid, host: h.id, vcpus: v.vcpus, memoryMiB: v.memoryMiB, cpuUtil: v.cpuUtil, cpuPeak: (v.peak ??= v.window.peak()) ?? v.cpuUtil,
          sla: v.slaClass ?? VM_DEFAULTS.slaClass, minReliability: v.minReliability ?? 0, minTrust: v.minTrust ?? 'untrusted',
        });
      }
    }
    return { at: now, hosts, vms };
  }

  /** Where VM `uuid` runs now (first host reporting it), or undefined. */
  hostOfVm(uuid: string): LiveHost | undefined {
    for (const h of this.hosts.values()) if (h.vms.has(uuid)) return h;
    return undefined;
  }

  view(h: LiveHost): HostView {
    let util = 0;
    for (const v of h.vms.values()) util += v.vcpus * v.cpuUtil;
    return {
      id: h.id, liveness: h.liveness, state: h.state, cpus: h.attrs.cpus, memoryMiB: h.attrs.memoryMiB,
      idleWatts: h.reg.idleWatts ?? h.attrs.powerModel.idleWatts, peakWatts: h.reg.peakWatts ?? h.attrs.capWatts, budgetWatts: h.budgetWatts,
      ...(h.measuredWatts !== undefined ? { measuredWatts: h.measuredWatts } : {}),
      ...(h.budgetSource !== undefined ? { budgetSource: h.budgetSource } : {}),
      ...(h.capKHz !== undefined ? { capKHz: h.capKHz } : {}),
      ...(h.reg.maxKHz !== undefined ? { maxKHz: h.reg.maxKHz } : {}),
      reliability: h.reliability, trust: h.attrs.trust, vms: h.vms.size, cpuUtil: Math.min(1, util / h.attrs.cpus), lastSeen: h.lastSeen,
      ...(h.reg.migrationUri !== undefined ? { migrationUri: h.reg.migrationUri } : {}),
    };
  }

  vmViews(migratingTo: (uuid: string) => string | undefined): VmView[] {
    const out: VmView[] = [];
    for (const h of this.hosts.values()) {
      for (const v of h.vms.values()) {
        const to = migratingTo(v.uuid);
        out.push({
          uuid: v.uuid, ...(v.name !== undefined ? { name: v.name } : {}), host: h.id, vcpus: v.vcpus, memoryMiB: v.memoryMiB,
          cpuUtil: v.cpuUtil, sla: v.sla, slaClass: v.slaClass ?? VM_DEFAULTS.slaClass,
          ...(v.minReliability !== undefined ? { minReliability: v.minReliability } : {}), ...(v.minTrust !== undefined ? { minTrust: v.minTrust } : {}), ...(to !== undefined ? { migratingTo: to } : {}),
        });
      }
    }
    return out;
  }
}
