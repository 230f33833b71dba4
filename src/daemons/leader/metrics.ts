// The leader's Prometheus registry (served by the HTTP API at /metrics): process metrics, hosts by
// liveness and state, budgets, decisions by kind, migrations by outcome, bad input from hosts by
// kind, registration refusals, duplicate identities and the M-channels' own bad-input counters.
// Everything is read at scrape time from the objects that keep it; nothing is counted twice.
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { BAD_INPUT_COUNTERS } from '../../mchannel/index.js';
import type { Logger } from 'pino';
import type { LeaderConfig } from './config.js';
import { EtcdTerm, registerTermMetrics } from './etcd-term.js';
import type { LeaderCore, LeaderDeps } from './leader.js';

/** A counter whose value follows a monotonic number kept elsewhere. */
function follow(registry: Registry, name: string, help: string, labelNames: string[], read: () => Iterable<[Record<string, string>, number]>): void {
  const seen = new Map<string, number>();
  new Counter({
    name, help, labelNames, registers: [registry],
    collect() {
      for (const [labels, value] of read()) {
        const key = JSON.stringify(labels);
        const delta = value - (seen.get(key) ?? 0);
        seen.set(key, value);
        if (delta > 0) this.inc(labels, delta);
      }
    },
  });
}

function* labelled(m: ReadonlyMap<string, number>, label: string): Iterable<[Record<string, string>, number]> {
  for (const [k, v] of m) yield [{ [label]: k }, v];
}

export function createLeaderRegistry(l: LeaderCore): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'vmanage_leader_hosts', help: 'Hosts by liveness (up, lost) and power state', labelNames: ['liveness', 'state'], registers: [registry],
    collect() {
      this.reset();
      for (const h of l.table.hosts.values()) this.inc({ liveness: h.liveness, state: h.state });
    },
  });
  new Gauge({
    name: 'vmanage_leader_host_budget_watts', help: 'Budget in force per host, W', labelNames: ['host'], registers: [registry],
    collect() {
      this.reset();
      for (const h of l.table.hosts.values()) this.set({ host: h.id }, h.budgetWatts);
    },
  });
  new Gauge({
    name: 'vmanage_leader_host_power_watts', help: 'Last measured power per host that is up, W', labelNames: ['host'], registers: [registry],
    collect() {
      this.reset();
      for (const h of l.table.hosts.values()) if (h.liveness === 'up' && h.measuredWatts !== undefined) this.set({ host: h.id }, h.measuredWatts);
    },
  });
  new Gauge({ name: 'vmanage_leader_cluster_budget_watts', help: 'Cluster power budget, W', registers: [registry], collect() { this.set(l.clusterBudgetWatts); } });
  new Gauge({ name: 'vmanage_leader_is_leader', help: '1 while this process leads', registers: [registry], collect() { this.set(l.role === 'leader' ? 1 : 0); } });
  new Gauge({ name: 'vmanage_leader_fencing_token', help: 'Fencing token of the current term', registers: [registry], collect() { this.set(l.term.token ?? 0); } });
  new Gauge({ name: 'vmanage_leader_migrations_in_flight', help: 'Migrations running', registers: [registry], collect() { this.set(l.tracker.inFlight.size); } });
  new Gauge({ name: 'vmanage_leader_vms', help: 'VMs the hosts report', registers: [registry], collect() { let n = 0; for (const h of l.table.hosts.values()) n += h.vms.size; this.set(n); } });
  follow(registry, 'vmanage_leader_decisions_total', 'Decisions journaled, by kind', ['kind'], () => labelled(l.decisionLog.byKind, 'kind'));
  follow(registry, 'vmanage_leader_migrations_total', 'Migrations ended, by outcome', ['outcome'], () => labelled(l.tracker.outcomes, 'outcome'));
  follow(registry, 'vmanage_leader_bad_input_total', 'Bad input from hosts, by kind', ['kind'], () => labelled(l.counters.badInput, 'kind'));
  follow(registry, 'vmanage_leader_registration_refusals_total', 'Registrations refused, by reason', ['reason'], () => labelled(l.counters.refusals, 'reason'));
  follow(registry, 'vmanage_leader_duplicate_identities_total', 'A host id registered while another live session held it', [], () => [[{}, l.counters.duplicateIdentities]]);
  follow(registry, 'vmanage_leader_bad_input_disconnects_total', 'Host sessions closed for bad input', [], () => [[{}, l.counters.disconnectedForBadInput]]);
  follow(registry, 'vmanage_leader_registrations_total', 'Host registrations accepted', [], () => [[{}, l.counters.registrations]]);
  follow(registry, 'vmanage_leader_updates_total', 'Host updates applied', [], () => [[{}, l.counters.updates]]);
  follow(registry, 'vmanage_leader_channel_bad_input_total', 'Bad input seen by the M-channel layer (framing, envelopes, schemas), by kind', ['kind'], () => channelBadInput(l));
  return registry;
}

/** Sums of the M-channel bad-input counters: the server's, live sessions' and ended sessions'. */
function channelBadInput(l: LeaderCore): Iterable<[Record<string, string>, number]> {
  const sums = new Map<string, number>(l.counters.endedSessionsBadInput);
  const add = (c: Record<string, number>): void => {
    for (const k of BAD_INPUT_COUNTERS) sums.set(k, (sums.get(k) ?? 0) + (c[k] ?? 0));
  };
  add(l.server.counters as unknown as Record<string, number>);
  for (const ch of l.server.channels()) add(ch.counters as unknown as Record<string, number>);
  return labelled(sums, 'kind');
}

/** The term source for a configuration (etcd election when configured, else the local SQLite
 *  term) and how to add its counters (vmanage_leader_term_*_total) to the leader's registry. */
export function termFor(cfg: LeaderConfig, log: Logger): { deps: Pick<LeaderDeps, 'term'>; registerMetrics(registry: Registry): void } {
  const etcd = cfg.etcd;
  if (!etcd) return { deps: {}, registerMetrics() {} };
  let term: EtcdTerm | undefined;
  return {
    deps: { term: () => (term = new EtcdTerm(etcd, cfg.id, log.child({ part: 'etcd' }))) },
    registerMetrics(registry) { if (term) registerTermMetrics(registry, term.counters); },
  };
}
