// Live migration through libvirt-dbus: one MigrateToURI3 call (it returns when the migration has
// finished or failed), with GetJobStats polled alongside it for progress and AbortJob on abort.
//
// Flags (virDomainMigrateFlags) used by default: VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER |
// VIR_MIGRATE_ABORT_ON_ERROR. Peer-to-peer means the source libvirtd talks to the destination
// libvirtd itself, so `destinationUri` must be reachable from the source daemon (e.g.
// qemu+tls://host-b/system). Optional: PERSIST_DEST, UNDEFINE_SOURCE, AUTO_CONVERGE.
// Parameters: migrate_uri (transport URI), destination_xml (e.g. a renamed channel socket path),
// bandwidth (MiB/s). maxDowntimeMs is set with MigrateSetMaxDowntime (ms) before the call.
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import type { MigrationOptions, MigrationProgress } from '../../domain/ports/hypervisor.js';
import { MigrateFlags } from './constants.js';
import type { DbusClient } from './dbus-client.js';
import { translate } from './errors.js';
import { num, record, variant } from './variants.js';

export interface LibvirtMigrationOptions extends MigrationOptions {
  /** Make the VM persistent on the destination (VIR_MIGRATE_PERSIST_DEST). */
  readonly persistDest?: boolean;
  /** Undefine the VM on the source once it has moved (VIR_MIGRATE_UNDEFINE_SOURCE). */
  readonly undefineSource?: boolean;
  readonly autoConverge?: boolean;
  /** How often GetJobStats is polled for onProgress, ms (default 250). */
  readonly progressIntervalMs?: number;
  /** Upper bound for the whole migration call, ms (default 10 min). */
  readonly timeoutMs?: number;
}

const DOMAIN = 'org.libvirt.Domain';

export function migrationFlags(o: LibvirtMigrationOptions): number {
  let f = MigrateFlags.LIVE | MigrateFlags.PEER2PEER | MigrateFlags.ABORT_ON_ERROR;
  if (o.persistDest) f |= MigrateFlags.PERSIST_DEST;
  if (o.undefineSource) f |= MigrateFlags.UNDEFINE_SOURCE;
  if (o.autoConverge) f |= MigrateFlags.AUTO_CONVERGE;
  return f;
}

export function migrationParams(o: MigrationOptions): Record<string, ReturnType<typeof variant>> {
  const p: Record<string, ReturnType<typeof variant>> = {};
  if (o.migrateUri) p['migrate_uri'] = variant('s', o.migrateUri);
  if (o.destinationXml) p['destination_xml'] = variant('s', o.destinationXml);
  if (o.bandwidthMiBps !== undefined) {
    if (!Number.isInteger(o.bandwidthMiBps) || o.bandwidthMiBps <= 0) throw new VmanageError(ErrorCodes.InvalidInput, `bandwidthMiBps must be a positive integer, got ${o.bandwidthMiBps}`);
    p['bandwidth'] = variant('t', BigInt(o.bandwidthMiBps));
  }
  return p;
}

/** GetJobStats reply -> progress; elapsed falls back to our own measurement. */
export function parseJobStats(uuid: string, reply: unknown[], elapsedMs: number): MigrationProgress {
  const [, stats] = (Array.isArray(reply[0]) ? reply[0] : reply) as [unknown, unknown];
  const r = record(stats);
  const out: { -readonly [K in keyof MigrationProgress]: MigrationProgress[K] } = { uuid, elapsedMs: num(r['time_elapsed']) ?? elapsedMs };
  const total = num(r['data_total']);
  const processed = num(r['data_processed']);
  const remaining = num(r['data_remaining']);
  if (total !== undefined) out.dataTotalBytes = total;
  if (processed !== undefined) out.dataProcessedBytes = processed;
  if (remaining !== undefined) out.dataRemainingBytes = remaining;
  return out;
}

export async function migrate(client: DbusClient, path: string, uuid: string, o: LibvirtMigrationOptions): Promise<void> {
  if (!o.destinationUri) throw new VmanageError(ErrorCodes.InvalidInput, 'migration needs a destinationUri', { uuid });
  const aborted = (): VmanageError => new VmanageError(ErrorCodes.MigrationAborted, `migration of VM ${uuid} was aborted`, { uuid, destinationUri: o.destinationUri });
  if (o.signal?.aborted) throw aborted();
  const params = migrationParams(o);
  const flags = migrationFlags(o);
  if (o.maxDowntimeMs !== undefined) {
    await client.call(path, DOMAIN, 'MigrateSetMaxDowntime', 'tu', [BigInt(Math.max(1, Math.round(o.maxDowntimeMs))), 0])
      .catch((err: unknown) => { throw translate(err, { op: 'MigrateSetMaxDowntime', uuid }); });
  }
  const started = Date.now();
  let abortRequested = false;
  const onAbort = (): void => {
    abortRequested = true;
    client.call(path, DOMAIN, 'AbortJob', '', [], 10_000).catch(() => { /* the migration call reports the outcome */ });
  };
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const poller = o.onProgress ? startProgress(client, path, uuid, o, started) : undefined;
  try {
    await client.call(path, DOMAIN, 'MigrateToURI3', 'sa{sv}u', [o.destinationUri, params, flags], o.timeoutMs ?? 600_000);
  } catch (err) {
    if (abortRequested) throw aborted();
    const e = translate(err, { op: 'MigrateToURI3', uuid, fallback: ErrorCodes.MigrationFailed });
    if (e.code === ErrorCodes.MigrationAborted || e.code === ErrorCodes.VmNotFound) throw e;
    throw new VmanageError(ErrorCodes.MigrationFailed, `migration of VM ${uuid} to ${o.destinationUri} failed: ${String(e.details['libvirtMessage'] ?? e.message)}`,
      { ...e.details, destinationUri: o.destinationUri, flags, cause: e.code }, { cause: err });
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    poller?.stop();
  }
  // An abort that came after the migration finished changes nothing: the VM has moved.
}

function startProgress(client: DbusClient, path: string, uuid: string, o: LibvirtMigrationOptions, started: number): { stop(): void } {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    client.call(path, DOMAIN, 'GetJobStats', 'u', [0], 5_000)
      .then((reply) => o.onProgress?.(parseJobStats(uuid, reply, Date.now() - started)))
      .catch(() => { /* progress is best effort; the migration call carries the outcome */ })
      .finally(() => { busy = false; });
  }, o.progressIntervalMs ?? 250);
  return { stop: () => clearInterval(timer) };
}
