// The MVM's Prometheus registry: process metrics, the broker's metrics, and the daemon's own
// counters (read at scrape time from the objects that keep them; nothing is counted twice).
import { collectDefaultMetrics, Counter, Registry } from 'prom-client';
import { registerBrokerMetrics } from '../../broker/index.js';
import type { ControlLoop } from './control-loop.js';

export interface MvmCounterSources {
  /** Monotonic counters by metric suffix, e.g. {guest_reports: 12}; exposed as vmanage_mvm_<suffix>_total. */
  readonly read: () => Record<string, number>;
}

export function createMvmRegistry(src: MvmCounterSources, loop: ControlLoop | undefined): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  if (loop) registerBrokerMetrics(registry, { broker: loop.broker, actuator: loop.actuator, builder: loop.builder, bus: loop.bus });
  const seen = new Map<string, number>();
  new Counter({
    name: 'vmanage_mvm_events_total', help: 'Host daemon events by kind (guest reports, sensor errors, migration requests, bad control requests, ...)',
    labelNames: ['kind'], registers: [registry],
    collect() {
      for (const [kind, value] of Object.entries(src.read())) {
        const delta = value - (seen.get(kind) ?? 0);
        seen.set(kind, value);
        if (delta > 0) this.inc({ kind }, delta);
      }
    },
  });
  return registry;
}
