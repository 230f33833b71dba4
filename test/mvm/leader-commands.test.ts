// The host side of the leader's commands, on an injected clock: migrate (checks, progress at most
// once a second, exactly one end), abort-migration through the AbortSignal, power-off (refused
// unless allowed and empty, else the host power control), and the platform signals read from a
// fake /sys tree. The hypervisor is the in-memory port with a migration the test drives; the real
// libvirt migration is covered by test/e2e/leader-migration.test.ts.
import test from 'ava';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { ManualClock } from '../../src/domain/clock.js';
import { ErrorCodes, VmanageError } from '../../src/domain/errors.js';
import type { MigrationOptions, VmInfo } from '../../src/domain/ports/hypervisor.js';
import type { MigrateCommand } from '../../src/adapters/leader-link/link.js';
import { MigrationRunner } from '../../src/daemons/mvm/migrations.js';
import { readPlatformSignals, SECURE_BOOT_VAR } from '../../src/daemons/mvm/platform.js';
import { powerOffHandler } from '../../src/daemons/mvm/power-off.js';
import type { MigrationStatus } from '../../src/protocol/leader.js';
import { tempDir, type Teardown } from '../support/proc.js';
import { MemoryHypervisor } from '../guests/fixtures.js';

const log = pino({ level: 'silent' });
const VM = '6f1c1f0e-4f0c-4c4e-9a51-2f6c3c1d0a11';
const VM2 = '7f1c1f0e-4f0c-4c4e-9a51-2f6c3c1d0a12';
const migrate = (vm = VM, migrationId = 1): MigrateCommand => ({ token: 3, op: 'migrate', vm, to: 'b', destinationUri: 'qemu+tls://b/system', migrationId });

/** The memory hypervisor whose migrations the test drives (progress, end) and that knows unknown VMs. */
class DrivenHypervisor extends MemoryHypervisor {
  readonly migrations = new Map<string, { opts: MigrationOptions; finish: (err?: Error) => void }>();
  override async getVm(uuid: string): Promise<VmInfo> {
    const v = this.vms.get(uuid);
    if (!v) throw new VmanageError(ErrorCodes.VmNotFound, `no VM ${uuid}`);
    return v.info;
  }
  // The base class refuses migrations (it takes no arguments); this one takes the port's.
  override migrate(...args: unknown[]): never {
    const [uuid, opts] = args as [string, MigrationOptions];
    return new Promise<void>((resolve, reject) => {
      const finish = (err?: Error): void => { this.migrations.delete(uuid); if (err) reject(err); else resolve(); };
      this.migrations.set(uuid, { opts, finish });
      opts.signal?.addEventListener('abort', () => finish(new VmanageError(ErrorCodes.MigrationAborted, `migration of VM ${uuid} was aborted`)), { once: true });
    }) as never;
  }
}

function setup(maxConcurrent = 1) {
  const clock = new ManualClock(1_000_000);
  const hv = new DrivenHypervisor();
  hv.add(VM, undefined);
  hv.add(VM2, undefined);
  const statuses: MigrationStatus[] = [];
  const departures: string[] = [];
  const runner = new MigrationRunner({ hypervisor: hv, clock, log, maxConcurrent, report: (s) => statuses.push(s), departing: (vm, to) => departures.push(`${vm}->${to}`) });
  return { clock, hv, statuses, departures, runner };
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

test('a migration starts at once, reports progress at most once a second, then ends exactly once', async (t) => {
  const { clock, hv, statuses, departures, runner } = setup();
  t.deepEqual(await runner.start({ ...migrate(), maxDowntimeMs: 300, bandwidthMiBps: 100 }), { done: true });
  const m = hv.migrations.get(VM)!;
  t.like(m.opts, { destinationUri: 'qemu+tls://b/system', maxDowntimeMs: 300, bandwidthMiBps: 100 });
  t.deepEqual(departures, [`${VM}->b`], 'the guest session is told where the VM goes');
  for (let i = 1; i <= 12; i++) {
    clock.advance(250);
    m.opts.onProgress?.({ uuid: VM, elapsedMs: i * 250, dataTotalBytes: 1000, dataProcessedBytes: i * 80 });
  }
  const running = statuses.filter((s) => s.state === 'running');
  t.is(running.length, 3, '3 s of progress every 250 ms: first, +1 s, +2 s');
  t.deepEqual(running.map((s) => s.progress), [0.08, 0.4, 0.72]);
  clock.advance(100);
  m.finish();
  await settle();
  t.like(statuses.at(-1), { migrationId: 1, vm: VM, to: 'b', state: 'succeeded', elapsedMs: 3100 });
  t.is(statuses.filter((s) => s.state !== 'running').length, 1);
  t.is(runner.active, 0);
  t.like(runner.counters, { started: 1, succeeded: 1 });
});

test('a failed migration ends as failed with the error code and message', async (t) => {
  const { hv, statuses, runner } = setup();
  await runner.start(migrate());
  hv.migrations.get(VM)!.finish(new VmanageError(ErrorCodes.MigrationFailed, 'unable to connect to server'));
  await settle();
  t.like(statuses.at(-1), { state: 'failed', error: 'MIGRATION_FAILED: unable to connect to server' });
  t.is(runner.counters.failed, 1);
});

test('abort-migration aborts through the signal and the end says aborted; a wrong id or an idle VM is refused', async (t) => {
  const { hv, statuses, runner } = setup();
  await runner.start(migrate(VM, 5));
  t.deepEqual(runner.abort({ token: 3, op: 'abort-migration', vm: VM, migrationId: 4 }), { done: false, reason: `VM ${VM} is in migration 5, not 4` });
  t.deepEqual(runner.abort({ token: 3, op: 'abort-migration', vm: VM2, migrationId: 5 }), { done: false, reason: `VM ${VM2} is not migrating` });
  t.deepEqual(runner.abort({ token: 3, op: 'abort-migration', vm: VM, migrationId: 5 }), { done: true });
  await settle();
  t.like(statuses.at(-1), { migrationId: 5, state: 'aborted' });
  t.regex(statuses.at(-1)!.error!, /^MIGRATION_ABORTED: /);
  t.false(hv.migrations.has(VM));
});

const refusals: [string, (s: ReturnType<typeof setup>) => Promise<unknown>, MigrateCommand, RegExp][] = [
  ['a VM that is not on this host', async () => undefined, migrate('00000000-0000-4000-8000-000000000000'), /is not on this host/],
  ['a VM that is shut off', async (s) => { s.hv.vms.get(VM)!.info = { ...s.hv.vms.get(VM)!.info, state: 'shutoff' }; }, migrate(), /is shutoff, not running/],
  ['a VM already migrating', async (s) => s.runner.start(migrate(VM, 1)), migrate(VM, 2), /already migrating \(migration 1\)/],
  ['a second VM beyond the concurrency limit', async (s) => s.runner.start(migrate(VM2, 1)), migrate(VM, 2), /1 migration\(s\) under way \(at most 1 at once\)/],
  ['any VM while the daemon stops', async (s) => s.runner.stop(10), migrate(), /the host daemon is stopping/],
];
for (const [what, before, c, reason] of refusals) {
  test(`migrate is refused with the reason for ${what}`, async (t) => {
    const s = setup();
    await before(s);
    const r = await s.runner.start(c);
    t.false(r.done);
    t.regex(r.reason ?? '', reason);
    t.true(s.runner.counters.refused >= 1);
    t.false(s.statuses.some((x) => x.migrationId === c.migrationId && x.vm === c.vm && x.state !== 'running' && x.state !== 'aborted'), 'no end status for a refused migration');
  });
}

test('two commands for one VM at the same time start one migration', async (t) => {
  const { runner, hv } = setup(4);
  const replies = await Promise.all([runner.start(migrate(VM, 1)), runner.start(migrate(VM, 2))]);
  t.deepEqual(replies.map((r) => r.done).sort(), [false, true]);
  t.is(hv.migrations.size, 1);
});

test('stopping the daemon aborts migrations under way and reports them', async (t) => {
  const { runner, statuses } = setup();
  await runner.start(migrate());
  await runner.stop();
  t.like(statuses.at(-1), { state: 'aborted' });
});

function powerOff(o: { allowed: boolean; vms?: VmInfo['state'][]; migrating?: number; fail?: Error }) {
  const hv = new DrivenHypervisor();
  (o.vms ?? []).forEach((state, i) => hv.add(`${i}f1c1f0e-4f0c-4c4e-9a51-2f6c3c1d0a11`, undefined, state));
  const calls: string[] = [];
  const handler = powerOffHandler({
    allowed: o.allowed, hypervisor: hv, migrating: () => o.migrating ?? 0, log,
    control: () => ({ status: async () => 'on', powerOn: async () => {}, powerOff: async () => { calls.push('off'); if (o.fail) throw o.fail; } }),
  });
  return { handler, calls };
}

const powerCases: [string, Parameters<typeof powerOff>[0], boolean, RegExp | undefined][] = [
  ['is refused when the configuration does not allow it', { allowed: false }, false, /power.allowPowerOff is false/],
  ['is refused while a VM runs', { allowed: true, vms: ['shutoff', 'running'] }, false, /1 VM\(s\) still run here: vm-1f1c/],
  ['is refused while a migration is under way', { allowed: true, migrating: 1 }, false, /1 migration\(s\) under way/],
  ['says what the power control answered when it refuses', { allowed: true, fail: new VmanageError(ErrorCodes.PermissionDenied, 'logind PowerOff: Permission denied') }, false, /^PERMISSION_DENIED: logind PowerOff/],
  ['asks the power control when allowed and no VM runs', { allowed: true, vms: ['shutoff'] }, true, undefined],
];
for (const [what, o, done, reason] of powerCases) {
  test(`power-off ${what}`, async (t) => {
    const { handler, calls } = powerOff(o);
    const r = await handler();
    t.is(r.done, done);
    if (reason) t.regex(r.reason ?? '', reason);
    t.is(calls.length, done || o.fail ? 1 : 0);
  });
}

async function tree(t: Teardown, files: Record<string, Buffer | string | null>): Promise<string> {
  const root = await tempDir(t);
  for (const [path, body] of Object.entries(files)) {
    const full = join(root, path);
    if (body === null) await mkdir(full, { recursive: true });
    else {
      await mkdir(join(full, '..'), { recursive: true });
      await writeFile(full, body);
    }
  }
  return root;
}

const sb = `sys/firmware/efi/efivars/${SECURE_BOOT_VAR}`;
const platformCases: [string, Record<string, Buffer | string | null>, object][] = [
  ['Secure Boot on and a TPM', { [sb]: Buffer.from([6, 0, 0, 0, 1]), 'sys/class/tpm/tpm0': null }, { secureBoot: true, tpm: true }],
  ['Secure Boot off (5th byte 0) and no TPM', { [sb]: Buffer.from([6, 0, 0, 0, 0]), 'sys/class': null }, { secureBoot: false, tpm: false }],
  ['a BIOS boot (no EFI) is Secure Boot off', { 'sys/firmware/acpi': null, 'sys/class': null }, { secureBoot: false, tpm: false }],
  ['an EFI host without the variable is unknown', { 'sys/firmware/efi/efivars': null }, {}],
  ['a malformed variable is unknown, not a crash', { [sb]: Buffer.from([6, 0, 0, 0, 7]) }, {}],
  ['a truncated variable is unknown', { [sb]: Buffer.from([6, 0, 0]) }, {}],
  ['an empty tree says nothing', {}, {}],
];
for (const [what, files, expected] of platformCases) {
  test(`platform signals: ${what}`, async (t) => {
    const root = await tree(t, files);
    t.deepEqual(readPlatformSignals(root), expected);
  });
}
