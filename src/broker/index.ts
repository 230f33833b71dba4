// The M-broker runtime: event bus, policy registry, actuator with safety rails and backends,
// decision journal, snapshot builder, and the broker loop that ties them together.
export { EventBus, type Listener } from './bus.js';
export type { BrokerEvents } from './events.js';
export { createPolicyRegistry, type PolicyRegistry, type PolicySpec, type PolicyInstance } from './registry.js';
export { Actuator, type ActuatorBackend, type ActuatorOptions, type ApplyResult, type Refusal, type RefusalCode } from './actuator.js';
export { defaultRails, withRails, type KindRails, type RailsConfig } from './rails.js';
export { DryRunBackend, portsBackend, type PortsBackendOptions } from './backends.js';
export { MemoryJournal, type DecisionJournal, type JournalEntry, type ObservedEffect, type Outcome } from './journal.js';
export { SnapshotBuilder, defaultReportGate, type ReportGateParams, type SlaReportInput, type ReportVerdict, type VmInput, type SnapshotBuilderOptions } from './snapshot-builder.js';
export { mergeDecisions } from './merge.js';
export { Broker, type BrokerOptions, type CycleResult, type BrokerCounters, type BrokerLatency } from './broker.js';
export { LatencyWindow } from './latency.js';
export { wireBroker, type WireOptions } from './wire.js';
export { registerBrokerMetrics, type BrokerMetricSources } from './metrics.js';
