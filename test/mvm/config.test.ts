import test from 'ava';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseMvmConfig } from '../../src/daemons/mvm/config.js';
import type { SessionState } from '../../src/mchannel/state.js';
import { tempDir } from '../support/proc.js';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;

test('a minimal configuration gets the defaults', (t) => {
  const cfg = parseMvmConfig({ host: 'a', hypervisor: {} });
  t.is(cfg.hypervisor.uri, 'qemu:///system');
  t.deepEqual(cfg.handover, { peers: [], waitMs: 30_000 });
  t.is(cfg.log.level, 'info');
});

test('unix and mutual-TLS handover peers are accepted', (t) => {
  const cfg = parseMvmConfig({
    host: 'a', hypervisor: { uri: 'qemu:///system' },
    handover: { listen: { unix: '/run/vmanage/handover.sock' }, peers: [{ name: 'b', unix: '/tmp/b.sock' }, { name: 'c', tls: { host: '10.0.0.3', port: 7443, ca: '/etc/vmanage/ca.pem', cert: '/etc/vmanage/c.pem', key: '/etc/vmanage/c.key' } }] },
  });
  t.is(cfg.handover.peers.length, 2);
});

test('every problem is reported as path: what is wrong', (t) => {
  const err = t.throws(() => parseMvmConfig({ host: '', hypervisor: { uri: 5 }, hooks: { socket: 'relative' }, extra: 1 }));
  const problems = (err as unknown as { details: { problems: string[] } }).details.problems;
  t.true(problems.some((p) => p.startsWith('host:')), problems.join('\n'));
  t.true(problems.some((p) => p.startsWith('hypervisor.uri:')), problems.join('\n'));
  t.true(problems.some((p) => p.startsWith('hooks.socket:')), problems.join('\n'));
  t.true(problems.some((p) => p.includes('extra')), problems.join('\n'));
});

test('the daemon exits 2 on a bad configuration, naming the problem', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'mvm.json');
  await writeFile(file, JSON.stringify({ host: 'a', hypervisor: {}, handover: { waitMs: -1 } }));
  const err = await t.throwsAsync(run(process.execPath, ['--import', 'tsx', join(root, 'src/daemons/mvm/main.ts'), '-c', file], { cwd: root }));
  t.is((err as unknown as { code: number }).code, 2);
  t.regex((err as unknown as { stderr: string }).stderr, /handover\.waitMs:/);
});

test('saved guest sessions are read back once; a damaged entry is skipped, not fatal', async (t) => {
  const { loadSessions, saveSessions } = await import('../../src/daemons/mvm/mvm.js');
  const { pino } = await import('pino');
  const dir = await tempDir(t);
  const file = join(dir, 'sessions.json');
  const good: SessionState = { version: 1, sessionId: 's', role: 'host', incarnation: 'i', peerIncarnation: null, nextSeq: 1, received: 4, peerAck: 0, replay: [], nextRequestId: 0 };
  saveSessions(file, new Map([['vm-1', good]]));
  const log = pino({ level: 'silent' });
  t.deepEqual([...loadSessions(file, log)], [['vm-1', good]]);
  t.is(loadSessions(file, log).size, 0, 'the file is consumed');
  await writeFile(file, JSON.stringify({ 'vm-1': good, 'vm-2': { version: 9 } }));
  t.deepEqual([...loadSessions(file, log).keys()], ['vm-1']);
  await writeFile(file, '{not json');
  t.is(loadSessions(file, log).size, 0);
});

test('the guests section: virtio-serial by default, xenstore with an optional xenstored socket', (t) => {
  t.deepEqual(parseMvmConfig({ host: 'a', hypervisor: {} }).guests, { transport: 'virtio-serial' });
  t.deepEqual(parseMvmConfig({ host: 'a', hypervisor: {}, guests: { transport: 'xenstore' } }).guests, { transport: 'xenstore' });
  t.is(parseMvmConfig({ host: 'a', hypervisor: {}, guests: { transport: 'xenstore', xenstoreSocket: '/run/xenstored/socket' } }).guests.xenstoreSocket, '/run/xenstored/socket');
});

for (const [name, guests, path] of [
  ['an unknown transport', { transport: 'vsock' }, 'guests.transport:'],
  ['a relative xenstored socket', { transport: 'xenstore', xenstoreSocket: 'run/socket' }, 'guests.xenstoreSocket:'],
  ['a xenstored socket without the xenstore transport', { xenstoreSocket: '/run/xenstored/socket' }, 'guests.xenstoreSocket: only with transport xenstore'],
  ['an unknown key', { transport: 'xenstore', domains: [1] }, 'guests:'],
] as const) {
  test(`the guests section refuses ${name}, naming the path`, (t) => {
    const err = t.throws(() => parseMvmConfig({ host: 'a', hypervisor: {}, guests }));
    const problems = (err as unknown as { details: { problems: string[] } }).details.problems;
    t.true(problems.some((p) => p.startsWith(path)), problems.join('\n'));
  });
}
