// Prometheus metrics for the host reliability collector: the latest score and hazard by
// contributor, and source failures / rejected events. Register once per prom-client Registry.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { HostReliabilityCollector, ReliabilityReport } from './collector.js';

export function registerReliabilityMetrics(registry: Registry, collector: HostReliabilityCollector, latest: () => ReliabilityReport | undefined): void {
  new Gauge({
    name: 'vmanage_host_reliability_score', help: 'Host reliability score (0..1, 1 = no recent hardware errors)', registers: [registry],
    collect() {
      const r = latest();
      if (r) this.set(r.score);
    },
  });
  new Gauge({
    name: 'vmanage_host_reliability_hazard', help: 'Decayed hardware error hazard, by contributor', labelNames: ['kind'], registers: [registry],
    collect() {
      this.reset();
      const r = latest();
      if (r) for (const [kind, v] of Object.entries(r.contributions)) this.set({ kind }, v);
    },
  });
  const seen = new Map<string, number>();
  new Counter({
    name: 'vmanage_host_reliability_problems_total', help: 'Reliability source failures and rejected events', labelNames: ['kind'], registers: [registry],
    collect() {
      const now = { source_failure: collector.counters.sourceFailures, rejected_event: collector.counters.rejectedEvents };
      for (const [k, v] of Object.entries(now)) {
        const d = v - (seen.get(k) ?? 0);
        seen.set(k, v);
        if (d > 0) this.inc({ kind: k }, d);
      }
    },
  });
}
