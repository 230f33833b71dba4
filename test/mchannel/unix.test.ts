import test from 'ava';
import { createServer } from 'node:net';
import { existsSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { unixConnector, unixListener } from '../../src/mchannel/index.js';
import { isVmanageError } from '../../src/domain/errors.js';
import { startProcess, tempDir } from '../support/proc.js';

test('a stale socket file left by a dead process is replaced', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'h.sock');
  // A process that listens and is killed: its socket file stays behind.
  const dead = await startProcess(t, process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`], { ready: /up/ });
  await dead.stop('SIGKILL');
  t.true(existsSync(path));
  const l = await unixListener(path, { label: 'vm-1' });
  t.teardown(() => l.close());
  const got = new Promise<string>((r) => l.onConnection((c) => r(c.peer.id)));
  const conn = await unixConnector(path).connect();
  t.teardown(() => conn.stream.destroy());
  t.is(await got, 'vm-1');
  t.is(statSync(path).mode & 0o777, 0o660);
});

test('a socket another process serves is not stolen', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'h.sock');
  const live = createServer();
  await new Promise<void>((r) => live.listen(path, () => r()));
  t.teardown(() => new Promise<void>((r) => live.close(() => r())));
  const err = await t.throwsAsync(unixListener(path));
  t.true(isVmanageError(err, 'UNAVAILABLE'));
  t.regex(err?.message ?? '', /in use/);
});

test('a path that is not a socket is refused', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'file');
  writeFileSync(path, 'x');
  t.true(isVmanageError(await t.throwsAsync(unixListener(path)), 'INVALID_INPUT'));
});

test('connecting to a missing socket fails with UNAVAILABLE naming the path', async (t) => {
  const err = await t.throwsAsync(unixConnector('/nonexistent/x.sock').connect());
  t.true(isVmanageError(err, 'UNAVAILABLE'));
  t.regex(err?.message ?? '', /nonexistent\/x\.sock/);
});
