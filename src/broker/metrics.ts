// Prometheus metrics for a broker, read at scrape time from the counters the runtime keeps
// (nothing is counted twice, nothing runs between scrapes). Register once per prom-client Registry.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Actuator } from './actuator.js';
import type { Broker } from './broker.js';
import type { EventBus } from './bus.js';
import type { BrokerEvents } from './events.js';
import type { SnapshotBuilder } from './snapshot-builder.js';

export interface BrokerMetricSources {
  readonly broker: Broker;
  readonly actuator: Actuator;
  readonly builder?: SnapshotBuilder;
  readonly bus?: EventBus<BrokerEvents>;
}

/** A prom-client counter that follows a monotonic source value. */
function follow(registry: Registry, name: string, help: string, labelNames: string[], read: () => Record<string, number>): void {
  const seen = new Map<string, number>();
  new Counter({
    name, help, labelNames, registers: [registry],
    collect() {
      for (const [key, value] of Object.entries(read())) {
        const delta = value - (seen.get(key) ?? 0);
        seen.set(key, value);
        if (delta <= 0) continue;
        if (labelNames.length === 0) this.inc(delta);
        else this.inc({ [labelNames[0] as string]: key }, delta);
      }
    },
  });
}

export function registerBrokerMetrics(registry: Registry, src: BrokerMetricSources): void {
  const { broker, actuator, builder, bus } = src;
  follow(registry, 'vmanage_broker_cycles_total', 'Control cycles run', [], () => ({ all: broker.counters.cycles }));
  follow(registry, 'vmanage_broker_policy_errors_total', 'Policy decide() calls that threw', [], () => ({ all: broker.counters.policyErrors }));
  follow(registry, 'vmanage_broker_decisions_total', 'Decisions carried out or refused', ['outcome'], () => ({ applied: broker.counters.applied, refused: broker.counters.refused }));
  follow(registry, 'vmanage_broker_refusals_total', 'Refusals by the actuator, by code', ['code'], () => ({ ...actuator.refusalCounts() }));
  if (builder) follow(registry, 'vmanage_broker_sla_reports_total', 'Guest SLA reports, by result', ['result'], () => ({ accepted: builder.counters.accepted, rate_limited: builder.counters.rate, invalid: builder.counters.invalid, unknown_vm: builder.counters.unknownVm }));
  if (bus) follow(registry, 'vmanage_broker_listener_failures_total', 'Event listeners that threw', [], () => ({ all: bus.failures }));
  new Gauge({
    name: 'vmanage_broker_latency_seconds', help: 'Recent latency quantiles: trigger_to_apply (SLA violation or budget -> first decision handed to the actuator), apply:<kind> (the actuator call, e.g. powerd\'s D-Bus round trip)',
    labelNames: ['path', 'quantile'], registers: [registry],
    collect() {
      this.reset();
      const windows: [string, { quantile(q: number): number | undefined }][] = [['trigger_to_apply', broker.latency.triggerToApply], ...[...broker.latency.apply].map(([k, w]) => [`apply:${k}`, w] as [string, typeof w])];
      for (const [path, w] of windows) {
        for (const q of [0.5, 0.9, 0.99]) {
          const v = w.quantile(q);
          if (v !== undefined) this.set({ path, quantile: String(q) }, v / 1000);
        }
      }
    },
  });
  new Gauge({
    name: 'vmanage_host_budget_watts', help: 'Host power budget in force, W', labelNames: ['source'], registers: [registry],
    collect() {
      this.reset();
      const b = broker.lastCycle?.snapshot.budget;
      if (b) this.set({ source: b.source }, b.watts);
    },
  });
  new Gauge({
    name: 'vmanage_host_power_watts', help: 'Host power at the latest cycle, W', registers: [registry],
    collect() {
      const p = broker.lastCycle?.snapshot.power;
      if (p) this.set(p.watts);
    },
  });
  new Gauge({
    name: 'vmanage_host_frequency_cap_khz', help: 'CPU frequency cap at the latest cycle, kHz', registers: [registry],
    collect() {
      const f = broker.lastCycle?.snapshot.frequency;
      if (f) this.set(f.capKHz);
    },
  });
}
