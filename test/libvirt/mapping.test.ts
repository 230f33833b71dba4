// Tables between libvirt's numbers and the port's types: lifecycle events, states, stats,
// scheduler parameters, migration flags and parameters, URIs, and error translation.
import test from 'ava';
import dbus from 'dbus-next';
import { ErrorCodes, isVmanageError, type ErrorCode } from '../../src/domain/errors.js';
import { mapLifecycleEvent, mapState } from '../../src/adapters/libvirt/events.js';
import { parseStats } from '../../src/adapters/libvirt/stats.js';
import { fromSchedulerRecord, schedulerKind, toSchedulerRecord } from '../../src/adapters/libvirt/scheduler.js';
import { migrationFlags, migrationParams, parseJobStats } from '../../src/adapters/libvirt/migrate.js';
import { connectTarget, domainPath, uuidFromPath } from '../../src/adapters/libvirt/uri.js';
import { translate } from '../../src/adapters/libvirt/errors.js';
import { DbusCallError } from '../../src/adapters/libvirt/dbus-client.js';

const v = (sig: string, value: unknown): InstanceType<typeof dbus.Variant> => new dbus.Variant(sig, value);
const UUID = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';

const events: ReadonlyArray<readonly [number, number, string, string | undefined]> = [
  [0, 0, 'defined', 'added'], [1, 0, 'undefined', 'removed'], [2, 0, 'started', 'booted'], [2, 1, 'started', 'migrated'],
  [3, 0, 'suspended', 'paused'], [3, 1, 'suspended', 'migrated'], [4, 1, 'resumed', 'migrated'], [5, 1, 'stopped', 'destroyed'],
  [5, 3, 'stopped', 'migrated'], [6, 1, 'shutdown', 'guest'], [7, 0, 'pmsuspended', 'memory'], [8, 0, 'crashed', 'panicked'],
  [2, 99, 'started', undefined],
];

for (const [event, detail, kind, reason] of events) {
  test(`libvirt event ${event}/${detail} is ${kind}${reason ? `/${reason}` : ' without a reason'}`, (t) => {
    t.deepEqual(mapLifecycleEvent(event, detail), reason ? { kind, reason } : { kind });
  });
}

test('an event code libvirt may add later maps to nothing (the adapter counts it)', (t) => {
  t.is(mapLifecycleEvent(42, 0), undefined);
});

test('libvirt domain states map to port states', (t) => {
  t.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 99].map(mapState), ['unknown', 'running', 'blocked', 'paused', 'shutdown', 'shutoff', 'crashed', 'suspended', 'unknown']);
});

test('GetStats and MemoryStats records become CPU time in ns and memory in KiB', (t) => {
  const records = {
    'state.state': v('i', 1), 'cpu.time': v('t', 123_456_789_000n), 'vcpu.current': v('u', 2),
    'vcpu.0.time': v('t', 60_000_000_000n), 'vcpu.1.time': v('t', 50_000_000_000n), 'balloon.current': v('t', 524_288n),
  };
  const mem = { 6: 524_288n, 7: 300_000n, 5: 500_000n, 4: 200_000n };
  t.deepEqual(parseStats(UUID, records, mem, 1000), {
    uuid: UUID, cpuTimeNs: 123_456_789_000, vcpuTimeNs: [60_000_000_000, 50_000_000_000],
    memory: { actualKiB: 524_288, rssKiB: 300_000, availableKiB: 500_000, unusedKiB: 200_000 }, timestamp: 1000,
  });
});

test('without cpu.time the vCPU times add up; without either, stats are UNSUPPORTED', (t) => {
  const records = { 'vcpu.current': v('u', 1), 'vcpu.0.time': v('t', 7n), 'balloon.rss': v('t', 9n) };
  t.like(parseStats(UUID, records, undefined, 0), { cpuTimeNs: 7, memory: { rssKiB: 9 } });
  t.true(isVmanageError(t.throws(() => parseStats(UUID, { 'state.state': v('i', 1) }, undefined, 0)), ErrorCodes.Unsupported));
});

test('scheduler: posix parameters both ways, weight schedulers take shares only', (t) => {
  t.deepEqual(fromSchedulerRecord({ cpu_shares: v('t', 1024n), vcpu_period: v('t', 100_000n), vcpu_quota: v('x', -1n) }), { cpuShares: 1024, vcpuPeriodUs: 100_000, vcpuQuotaUs: -1 });
  t.deepEqual(fromSchedulerRecord({ weight: v('u', 256), cap: v('u', 0) }), { cpuShares: 256 });
  const rec = toSchedulerRecord({ cpuShares: 2048, vcpuQuotaUs: 50_000, vcpuPeriodUs: 100_000 }, 'posix');
  t.deepEqual(Object.fromEntries(Object.entries(rec).map(([k, x]) => [k, [x.signature, x.value]])), {
    cpu_shares: ['t', 2048n], vcpu_period: ['t', 100_000n], vcpu_quota: ['x', 50_000n],
  });
  t.deepEqual(Object.keys(toSchedulerRecord({ cpuShares: 300 }, 'weight')), ['weight']);
  t.is(schedulerKind('posix'), 'posix');
  t.is(schedulerKind('credit'), 'weight');
  t.true(isVmanageError(t.throws(() => toSchedulerRecord({ vcpuPeriodUs: 10 }, 'posix')), ErrorCodes.InvalidInput));
  t.true(isVmanageError(t.throws(() => toSchedulerRecord({ vcpuQuotaUs: 1 }, 'weight')), ErrorCodes.Unsupported));
});

test('migration: live + peer-to-peer + abort-on-error by default, options add their flags', (t) => {
  t.is(migrationFlags({ destinationUri: 'x' }), 1 | 2 | 4096);
  t.is(migrationFlags({ destinationUri: 'x', persistDest: true, undefineSource: true, autoConverge: true }), 1 | 2 | 8 | 16 | 4096 | 8192);
  const p = migrationParams({ destinationUri: 'x', migrateUri: 'tcp://10.0.0.2', destinationXml: '<domain/>', bandwidthMiBps: 100 });
  t.deepEqual(Object.fromEntries(Object.entries(p).map(([k, x]) => [k, [x.signature, x.value]])), {
    migrate_uri: ['s', 'tcp://10.0.0.2'], destination_xml: ['s', '<domain/>'], bandwidth: ['t', 100n],
  });
  t.true(isVmanageError(t.throws(() => migrationParams({ destinationUri: 'x', bandwidthMiBps: -1 })), ErrorCodes.InvalidInput));
});

test('GetJobStats replies become progress in bytes and ms', (t) => {
  const reply = [[2, { time_elapsed: v('t', 1500n), data_total: v('t', 1000n), data_processed: v('t', 400n), data_remaining: v('t', 600n) }]];
  t.deepEqual(parseJobStats(UUID, reply, 99), { uuid: UUID, elapsedMs: 1500, dataTotalBytes: 1000, dataProcessedBytes: 400, dataRemainingBytes: 600 });
  t.deepEqual(parseJobStats(UUID, [[0, {}]], 99), { uuid: UUID, elapsedMs: 99 });
});

test('URIs map to libvirt-dbus connect objects and buses; domain paths encode the UUID both ways', (t) => {
  t.deepEqual(connectTarget('qemu:///system'), { uri: 'qemu:///system', bus: 'system', path: '/org/libvirt/QEMU' });
  t.deepEqual(connectTarget('xen:///system'), { uri: 'xen:///system', bus: 'system', path: '/org/libvirt/Xen' });
  t.deepEqual(connectTarget('test:///default'), { uri: 'test:///default', bus: 'session', path: '/org/libvirt/Test' });
  const p = domainPath('/org/libvirt/QEMU', UUID.toUpperCase());
  t.is(p, '/org/libvirt/QEMU/domain/_0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0');
  t.is(uuidFromPath('/org/libvirt/QEMU', p), UUID);
  t.is(uuidFromPath('/org/libvirt/Test', p), undefined);
});

const translations: ReadonlyArray<readonly [string, string, ErrorCode]> = [
  ['org.libvirt.Error', 'Domain not found: no domain with matching uuid', ErrorCodes.VmNotFound],
  ['org.libvirt.Error', 'this function is not supported by the connection driver: virDomainAbortJob', ErrorCodes.Unsupported],
  ['org.libvirt.Error', 'unsupported flags (0x4) in function testDomainGetSchedulerParametersFlags', ErrorCodes.Unsupported],
  ['org.libvirt.Error', 'invalid argument: bad value', ErrorCodes.InvalidInput],
  ['org.libvirt.Error', 'operation aborted: migration out job: canceled by client', ErrorCodes.MigrationAborted],
  ['org.libvirt.Error', 'internal error: client socket is closed', ErrorCodes.HypervisorUnavailable],
  ['org.freedesktop.DBus.Error.ServiceUnknown', 'The name org.libvirt was not provided', ErrorCodes.HypervisorUnavailable],
  ['org.freedesktop.DBus.Error.AccessDenied', 'denied', ErrorCodes.PermissionDenied],
  ['org.freedesktop.DBus.Error.UnknownObject', 'no such object', ErrorCodes.VmNotFound],
];

for (const [name, message, code] of translations) {
  test(`${name} "${message.slice(0, 40)}" becomes ${code}`, (t) => {
    const e = translate(new DbusCallError(name, message, 'M'), { op: 'M', uuid: UUID });
    t.is(e.code, code);
    t.like(e.details, { op: 'M', uuid: UUID, dbusError: name, libvirtMessage: message });
  });
}

test('an unmatched libvirt error takes the caller\'s fallback code', (t) => {
  t.is(translate(new DbusCallError('org.libvirt.Error', 'operation failed: something new', 'M'), { op: 'M', fallback: ErrorCodes.MigrationFailed }).code, ErrorCodes.MigrationFailed);
});
