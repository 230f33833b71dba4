import test from 'ava';
import { Registry } from 'prom-client';
import { registerBrokerMetrics } from '../../src/broker/metrics.js';
import { harness, power } from './harness.js';

test('metrics: cycles, decisions, refusals, SLA reports and the budget are exposed for Prometheus', async (t) => {
  const h = harness({ policies: [{ name: 'budget' }, { name: 'fail-safe' }] });
  const registry = new Registry();
  registerBrokerMetrics(registry, { broker: h.broker, actuator: h.actuator, builder: h.builder, bus: h.bus });
  h.builder.setVms([{ uuid: 'a', vcpus: 2, cpuUtil: 0.5 }]);
  h.builder.setLeaderBudget(200);
  h.builder.setHostUtil(0.9);
  for (let i = 0; i < 8; i++) h.bus.emit('sla-report', { vm: 'a', report: { status: 'ok', slack: 0.2 } });
  h.bus.emit('sla-report', { vm: 'ghost', report: { status: 'ok' } });
  h.bus.emit('power-reading', power(235, h.clock.now()));
  await h.broker.cycle();
  const text = await registry.metrics();
  t.regex(text, /vmanage_broker_cycles_total 1/);
  t.regex(text, /vmanage_broker_decisions_total\{outcome="applied"\} 1/);
  t.regex(text, /vmanage_broker_sla_reports_total\{result="accepted"\} 5/);
  t.regex(text, /vmanage_broker_sla_reports_total\{result="rate_limited"\} 3/);
  t.regex(text, /vmanage_broker_sla_reports_total\{result="unknown_vm"\} 1/);
  t.regex(text, /vmanage_host_budget_watts\{source="leader"\} 200/);
  t.regex(text, /vmanage_host_power_watts 235/);
  t.regex(text, /vmanage_broker_latency_seconds\{path="apply:set-frequency-cap",quantile="0.99"\} [0-9.e-]+/, 'the cap call\'s latency quantiles');
  await h.broker.cycle();
  t.regex(await registry.metrics(), /vmanage_broker_cycles_total 2/, 'follows the source, no double counting');
});
