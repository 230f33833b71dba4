// Prometheus metrics for a host's BMC adapters (IPMI tools and Redfish), read at scrape time
// from the counters the adapters keep. Register once per prom-client Registry.
import { Counter, type Registry } from 'prom-client';
import type { BmcCounters } from './ipmi-exec.js';
import type { SensorCounters } from './ipmi-reading.js';
import type { RedfishCounters } from './redfish-client.js';

export interface BmcMetricSources {
  /** IPMI tool runner counters (execRunner().counters). */
  readonly ipmi?: BmcCounters;
  readonly redfish?: RedfishCounters;
  /** The power sensor's counters (MemoizedSensor.counters). */
  readonly sensor?: SensorCounters;
}

/** A counter per (label value) that follows monotonic source values. */
function follow(registry: Registry, name: string, help: string, label: string, read: () => Record<string, number>): void {
  const seen = new Map<string, number>();
  new Counter({
    name, help, labelNames: [label], registers: [registry],
    collect() {
      for (const [key, value] of Object.entries(read())) {
        const delta = value - (seen.get(key) ?? 0);
        seen.set(key, value);
        if (delta > 0) this.inc({ [label]: key }, delta);
      }
    },
  });
}

export function registerBmcMetrics(registry: Registry, src: BmcMetricSources): void {
  const { ipmi, redfish, sensor } = src;
  if (ipmi) {
    follow(registry, 'vmanage_bmc_ipmi_calls_total', 'IPMI tool invocations', 'tool', () => ({ all: ipmi.calls }));
    follow(registry, 'vmanage_bmc_ipmi_failures_total', 'IPMI tool failures, by kind', 'kind', () => ({ timeout: ipmi.timeouts, auth: ipmi.authFailures, protocol: ipmi.protocolErrors }));
  }
  if (redfish) {
    follow(registry, 'vmanage_bmc_redfish_requests_total', 'Redfish requests', 'method', () => ({ all: redfish.requests }));
    follow(registry, 'vmanage_bmc_redfish_failures_total', 'Redfish failures, by kind', 'kind', () => ({ timeout: redfish.timeouts, auth: redfish.authFailures, protocol: redfish.protocolErrors }));
  }
  if (sensor) {
    follow(registry, 'vmanage_power_sensor_reads_total', 'Power sensor reads, by result', 'result', () => ({ ok: sensor.reads - sensor.failures, failed: sensor.failures }));
  }
}
