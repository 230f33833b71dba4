// sd_notify on a real unix datagram socket (a python3 receiver stands in for systemd): both
// helpers deliver the datagrams in order, abstract sockets work, the watchdog interval follows
// $WATCHDOG_USEC/$WATCHDOG_PID, and malformed lines are refused before anything is sent.
import test from 'ava';
import { join } from 'node:path';
import { pino } from 'pino';
import { createNotifier, helperArgv, type NotifyHelper } from '../../src/adapters/systemd/notify.js';
import { startProcess, tempDir, waitFor, type Teardown } from '../support/proc.js';

const log = pino({ level: 'silent' });

/** Receives datagrams on `address` (a path, or "@name"); datagrams() returns them, newlines as "|"
 *  (systemd-notify's synchronisation datagram BARRIER=1 left out: systemd consumes it itself). */
async function sink(t: Teardown, address: string): Promise<{ datagrams(): string[] }> {
  const script = [
    'import socket, sys',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
    'a = sys.argv[1]',
    's.bind("\\0" + a[1:] if a.startswith("@") else a)',
    'print("bound", flush=True)',
    'while True:',
    '    print("D:" + s.recv(65536).decode(errors="replace").replace("\\n", "|"), flush=True)',
  ].join('\n');
  const p = await startProcess(t, 'python3', ['-u', '-c', script, address], { ready: /bound/ });
  return { datagrams: () => p.output().split('\n').filter((l) => l.startsWith('D:')).map((l) => l.slice(2)).filter((d) => d !== 'BARRIER=1') };
}

for (const helper of ['systemd-notify', 'socat'] as NotifyHelper[]) {
  test(`${helper} delivers READY=1, WATCHDOG=1 and STOPPING=1 in order`, async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'notify.sock');
    const s = await sink(t, path);
    const n = createNotifier({ env: { ...process.env, NOTIFY_SOCKET: path }, log, helper });
    t.true(n.enabled);
    await n.notify('READY=1', 'STATUS=running');
    await n.notify('WATCHDOG=1');
    await n.notify('STOPPING=1');
    const got = await waitFor('3 datagrams', () => (s.datagrams().length >= 3 ? s.datagrams() : undefined));
    t.regex(got[0]!, /READY=1\|STATUS=running/);
    t.regex(got[1]!, /WATCHDOG=1/);
    t.regex(got[2]!, /STOPPING=1/);
    t.deepEqual(n.counters, { sent: 3, failed: 0 });
  });
}

test('an abstract NOTIFY_SOCKET (@name) is reached too', async (t) => {
  const name = `@vmanage-test-${process.pid}-${Date.now()}`;
  const s = await sink(t, name);
  const n = createNotifier({ env: { ...process.env, NOTIFY_SOCKET: name }, log, helper: 'socat' });
  await n.notify('READY=1');
  t.deepEqual(await waitFor('a datagram', () => (s.datagrams().length ? s.datagrams() : undefined)), ['READY=1']);
});

test('without NOTIFY_SOCKET the notifier is disabled and sends nothing', async (t) => {
  const n = createNotifier({ env: {}, log });
  t.false(n.enabled);
  await n.notify('READY=1');
  t.is(n.watchdogIntervalMs, undefined);
  t.deepEqual(n.counters, { sent: 0, failed: 0 });
});

const watchdogCases: [string, NodeJS.ProcessEnv, number | undefined][] = [
  ['half of WATCHDOG_USEC, in ms', { WATCHDOG_USEC: '10000000' }, 5000],
  ['meant for this process by WATCHDOG_PID', { WATCHDOG_USEC: '2000000', WATCHDOG_PID: String(process.pid) }, 1000],
  ['none when WATCHDOG_PID names another process', { WATCHDOG_USEC: '2000000', WATCHDOG_PID: '1' }, undefined],
  ['none for a garbage WATCHDOG_USEC', { WATCHDOG_USEC: 'soon' }, undefined],
];
for (const [what, env, expected] of watchdogCases) {
  test(`the watchdog interval is ${what}`, (t) => {
    t.is(createNotifier({ env: { NOTIFY_SOCKET: '/nonexistent', ...env }, log }).watchdogIntervalMs, expected);
  });
}

test('a line that is not VAR=VALUE is refused before anything is sent', async (t) => {
  const n = createNotifier({ env: { NOTIFY_SOCKET: '/nonexistent' }, log, helper: 'socat' });
  await t.throwsAsync(n.notify('READY=1\nMAINPID=1'), { message: /VAR=VALUE/ });
  await t.throwsAsync(n.notify('ready'), { message: /VAR=VALUE/ });
  t.deepEqual(n.counters, { sent: 0, failed: 0 });
});

test('a socket nobody listens on is counted as a failure, not thrown', async (t) => {
  const dir = await tempDir(t);
  const n = createNotifier({ env: { ...process.env, NOTIFY_SOCKET: join(dir, 'absent.sock') }, log, helper: 'socat' });
  await n.notify('READY=1');
  t.deepEqual(n.counters, { sent: 0, failed: 1 });
});

test('helper argv: systemd-notify names our PID; socat picks UNIX or ABSTRACT by the address', (t) => {
  t.deepEqual(helperArgv('systemd-notify', '/run/x', ['READY=1'], 42), ['systemd-notify', '--pid=42', 'READY=1']);
  t.deepEqual(helperArgv('socat', '/run/x', ['READY=1'], 42), ['socat', '-u', 'STDIN', 'UNIX-SENDTO:/run/x']);
  t.deepEqual(helperArgv('socat', '@abc', ['READY=1'], 42), ['socat', '-u', 'STDIN', 'ABSTRACT-SENDTO:abc']);
});
