// Connects the bus to a snapshot builder and a broker: inputs update the builder; an accepted SLA
// violation or a new budget asks for a cycle at once (coalesced by the broker); applied
// decisions update the builder's view of the knobs and of open migration requests. All listeners belong to one owner, so
// disconnect() (or bus.removeOwner(owner)) removes them together.
import type { Logger } from 'pino';
import type { Broker } from './broker.js';
import type { EventBus } from './bus.js';
import type { BrokerEvents } from './events.js';
import type { SnapshotBuilder } from './snapshot-builder.js';

export interface WireOptions {
  readonly bus: EventBus<BrokerEvents>;
  readonly builder: SnapshotBuilder;
  readonly broker: Broker;
  readonly logger: Logger;
  readonly owner?: string;
}

export function wireBroker(o: WireOptions): { disconnect(): void } {
  const owner = o.owner ?? 'broker-inputs';
  const { bus, builder, broker } = o;
  bus.on(owner, 'sla-report', ({ vm, report }) => {
    const verdict = builder.slaReport(vm, report);
    if (!verdict.accepted) {
      // Rate drops are expected under a flood: debug only; the counters show them.
      if (verdict.reason === 'rate') o.logger.debug({ vm, problem: verdict.problem }, 'SLA report dropped');
      else o.logger.warn({ vm, problem: verdict.problem }, 'SLA report rejected');
      return;
    }
    if (report.status === 'violated') broker.requestCycle();
  });
  bus.on(owner, 'power-reading', (r) => builder.setPower(r));
  bus.on(owner, 'leader-budget', ({ watts }) => {
    if (!(Number.isFinite(watts) && watts > 0)) {
      o.logger.warn({ watts }, 'leader budget rejected: expected watts > 0');
      return;
    }
    builder.setLeaderBudget(watts);
    broker.requestCycle();
  });
  bus.on(owner, 'leader-connection', ({ connected }) => builder.setLeaderConnected(connected));
  bus.on(owner, 'migration-resolved', ({ vm }) => builder.migrationResolved(vm));
  // A migration request is open from the moment the broker starts sending it; an answer that
  // overtakes the send (the leader's reply, or the release hook, while the cycle still waits for
  // a slow knob) closes it for good (SnapshotBuilder.migrationRequested).
  bus.on(owner, 'applying', ({ decision }) => {
    if (decision.kind === 'request-migration') builder.migrationSending(decision.target);
  });
  bus.on(owner, 'applied', ({ result }) => {
    const d = result.decision;
    if (d.kind === 'set-frequency-cap') builder.setFrequencyCap(d.value);
    else if (d.kind === 'set-power-limit') builder.setPowerLimitWatts(d.value);
    else if (d.kind === 'request-migration' && !builder.migrationRequested(d.target)) {
      o.logger.info({ vm: d.target }, 'migration request answered before its sending completed: it stays closed');
    }
  });
  bus.on(owner, 'refused', ({ result }) => {
    if (result.decision.kind === 'request-migration') builder.migrationNotSent(result.decision.target);
  });
  return { disconnect: () => void bus.removeOwner(owner) };
}
