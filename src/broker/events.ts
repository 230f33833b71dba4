// The broker's events. Producers (adapters wired by the daemon) emit inputs; the broker emits
// what it decided and what happened to it. Payload units as in src/domain/model.ts.
import type { Decision, HostSnapshot } from '../domain/model.js';
import type { PowerReading } from '../domain/ports/power.js';
import type { ApplyResult } from './actuator.js';
import type { SlaReportInput } from './snapshot-builder.js';

export interface BrokerEvents {
  /** A guest's SLA report; `vm` comes from the M-channel's transport identity. */
  'sla-report': { readonly vm: string; readonly report: SlaReportInput };
  'power-reading': PowerReading;
  /** A budget from the leader, W. */
  'leader-budget': { readonly watts: number };
  'leader-connection': { readonly connected: boolean };
  /** The leader answered a migration request (done, refused, failed). */
  'migration-resolved': { readonly vm: string; readonly outcome: string };
  /** After each control cycle. */
  'cycle': { readonly snapshot: HostSnapshot; readonly decisions: readonly Decision[]; readonly results: readonly ApplyResult[] };
  /** A decision the broker is about to hand to the actuator (before its rails are checked). */
  'applying': { readonly decision: Decision };
  'applied': { readonly result: ApplyResult & { ok: true }; readonly journalId: number };
  'refused': { readonly result: ApplyResult & { ok: false }; readonly journalId: number };
}
