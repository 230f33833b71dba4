// BMC and reliability metrics as a Prometheus scrape shows them.
import test from 'ava';
import { Registry } from 'prom-client';
import { registerBmcMetrics } from '../../src/adapters/power/ipmi-metrics.js';
import { newBmcCounters } from '../../src/adapters/power/ipmi-exec.js';
import { HostReliabilityCollector, type ReliabilityReport } from '../../src/adapters/reliability/collector.js';
import { registerReliabilityMetrics } from '../../src/adapters/reliability/metrics.js';
import { ManualClock } from '../../src/domain/clock.js';
import { createFakeEdac } from '../support/fake-edac.js';

test('BMC failure counters appear by kind and follow the adapters across scrapes', async (t) => {
  const registry = new Registry();
  const ipmi = newBmcCounters();
  const sensor = { reads: 0, failures: 0 };
  registerBmcMetrics(registry, { ipmi, sensor });
  ipmi.calls = 5; ipmi.timeouts = 2; ipmi.authFailures = 1;
  sensor.reads = 5; sensor.failures = 3;
  let text = await registry.metrics();
  t.regex(text, /vmanage_bmc_ipmi_failures_total\{kind="timeout"\} 2/);
  t.regex(text, /vmanage_bmc_ipmi_failures_total\{kind="auth"\} 1/);
  t.regex(text, /vmanage_power_sensor_reads_total\{result="ok"\} 2/);
  ipmi.timeouts = 3;
  text = await registry.metrics();
  t.regex(text, /vmanage_bmc_ipmi_failures_total\{kind="timeout"\} 3/);
});

test('the reliability score and its contributors are exported', async (t) => {
  const edac = await createFakeEdac(t, [{ ce: 0, ue: 0 }]);
  const collector = new HostReliabilityCollector({ edacRoot: edac.root, rasdaemonDb: null }, new ManualClock(1_700_000_000_000));
  let last: ReliabilityReport | undefined;
  const registry = new Registry();
  registerReliabilityMetrics(registry, collector, () => last);
  last = await collector.poll();
  await edac.set(0, { ce: 0, ue: 1 });
  last = await collector.poll();
  const text = await registry.metrics();
  t.regex(text, /vmanage_host_reliability_score 0\.5/);
  t.regex(text, /vmanage_host_reliability_hazard\{kind="memory-ue"\} 100/);
});
