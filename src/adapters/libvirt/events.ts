// libvirt's lifecycle event codes (virDomainEventType and its per-type detail enums, from
// libvirt-domain.h) mapped to the hypervisor port's typed events. Codes are stable ABI in libvirt.
import type { VmEventKind, VmState } from '../../domain/ports/hypervisor.js';

interface EventType { readonly kind: VmEventKind; readonly details: readonly string[] }

const eventTypes: readonly EventType[] = [
  { kind: 'defined', details: ['added', 'updated', 'renamed', 'from_snapshot'] },
  { kind: 'undefined', details: ['removed', 'renamed'] },
  { kind: 'started', details: ['booted', 'migrated', 'restored', 'from_snapshot', 'wakeup'] },
  { kind: 'suspended', details: ['paused', 'migrated', 'ioerror', 'watchdog', 'restored', 'from_snapshot', 'api_error', 'postcopy', 'postcopy_failed'] },
  { kind: 'resumed', details: ['unpaused', 'migrated', 'from_snapshot', 'postcopy', 'postcopy_failed'] },
  { kind: 'stopped', details: ['shutdown', 'destroyed', 'crashed', 'migrated', 'saved', 'failed', 'from_snapshot'] },
  { kind: 'shutdown', details: ['finished', 'guest', 'host'] },
  { kind: 'pmsuspended', details: ['memory', 'disk'] },
  { kind: 'crashed', details: ['panicked', 'crashloaded'] },
];

/** Event kind and detail name for libvirt's (event, detail) pair; undefined for an unknown event code. */
export function mapLifecycleEvent(event: number, detail: number): { kind: VmEventKind; reason?: string } | undefined {
  const t = eventTypes[event];
  if (!t) return undefined;
  const reason = t.details[detail];
  return reason === undefined ? { kind: t.kind } : { kind: t.kind, reason };
}

/** virDomainState -> port state. */
const states: readonly VmState[] = ['unknown', 'running', 'blocked', 'paused', 'shutdown', 'shutoff', 'crashed', 'suspended'];

export function mapState(state: number): VmState {
  return states[state] ?? 'unknown';
}
