// The xenstore client against the test xenstored over a real unix socket, and the Debian
// xenstore-* tools (libxenstore) against the same fixture, each reading what the other wrote.
import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { connectXenstoreSocket } from '../../src/adapters/xen/connect.js';
import { isVmanageError, type VmanageError } from '../../src/domain/errors.js';
import { startXenstored } from '../support/xenstored.js';
import { startProcess, tempDir, waitFor } from '../support/proc.js';
import { join } from 'node:path';
import type { XenstoredFixture } from '../fixtures/xenstored/server.js';
import type { XenstoreClient } from '../../src/adapters/xen/client.js';

const run = promisify(execFile);

async function dom0(t: Parameters<typeof startXenstored>[0]): Promise<{ xs: XenstoreClient; env: NodeJS.ProcessEnv; socketPath: string; fixture: XenstoredFixture; guest(domid: number): Promise<XenstoreClient> }> {
  const xsd = await startXenstored(t);
  const xs = await connectXenstoreSocket(xsd.socketPath);
  t.teardown(() => xs.close());
  return {
    xs,
    env: xsd.env(),
    socketPath: xsd.socketPath,
    fixture: xsd.fixture,
    guest: async (domid) => {
      const c = await connectXenstoreSocket(await xsd.guestSocket(domid));
      t.teardown(() => c.close());
      return c;
    },
  };
}

test('write then read returns the bytes written, and writing creates the parents', async (t) => {
  const { xs } = await dom0(t);
  await xs.write('/a/b/c', 'hello');
  t.is(await xs.readString('/a/b/c'), 'hello');
  t.deepEqual(await xs.directory('/a'), ['b']);
  t.is(await xs.readString('/a/b'), '');
});

test('binary values with nul bytes survive a round trip', async (t) => {
  const { xs } = await dom0(t);
  const value = Buffer.from([0, 1, 2, 0, 255]);
  await xs.write('/bin', value);
  t.deepEqual(await xs.read('/bin'), value);
});

test.serial('errors come back as typed errors with the errno name', async (t) => {
  const { xs } = await dom0(t);
  const table: [string, () => Promise<unknown>, string, string][] = [
    ['reading a missing node', () => xs.read('/missing'), 'NOT_FOUND', 'ENOENT'],
    ['an invalid path', () => xs.read('/bad//path'), 'INVALID_INPUT', 'EINVAL'],
    ['removing below a missing parent', () => xs.rm('/nope/child'), 'NOT_FOUND', 'ENOENT'],
  ];
  for (const [what, op, code, errno] of table) {
    const err = await t.throwsAsync<VmanageError>(op, undefined, what);
    t.true(isVmanageError(err), what);
    t.is(err?.code as string | undefined, code, what);
    t.is(err?.details['errno'], errno, what);
  }
  t.is(await xs.tryRead('/missing'), undefined);
  t.is(xs.stats.errorReplies, 4);
});

test('mkdir keeps an existing value and rm removes a whole subtree', async (t) => {
  const { xs } = await dom0(t);
  await xs.write('/x/y', 'v');
  await xs.mkdir('/x/y');
  t.is(await xs.readString('/x/y'), 'v');
  await xs.write('/x/y/z', '1');
  await xs.rm('/x');
  t.is(await xs.tryRead('/x/y/z'), undefined);
  await xs.rm('/x');
});

test('get domain path names /local/domain/<domid>', async (t) => {
  const { xs } = await dom0(t);
  t.is(await xs.getDomainPath(7), '/local/domain/7');
});

test('a watch fires once at once, then for the path and its children', async (t) => {
  const { xs } = await dom0(t);
  const seen: string[] = [];
  let got!: () => void;
  const done = new Promise<void>((r) => { got = r; });
  await xs.watch('/w', 'tok', (path, token) => {
    seen.push(`${token}:${path}`);
    if (seen.length === 2) got();
  });
  await xs.write('/w/a', '1');
  await xs.write('/other', '1');
  await done;
  t.deepEqual(seen, ['tok:/w', 'tok:/w/a']);
  await xs.unwatch('/w', 'tok');
  await xs.write('/w/b', '1');
  await xs.read('/w/b');
  t.is(seen.length, 2);
});

test('a transaction that conflicts with another writer is retried and then commits', async (t) => {
  const { xs, socketPath } = await dom0(t);
  await xs.write('/counter', '0');
  const other = await connectXenstoreSocket(socketPath);
  t.teardown(() => other.close());
  let attempts = 0;
  await xs.transaction(async (tx) => {
    attempts++;
    const n = Number(await xs.readString('/counter', tx));
    if (attempts === 1) await other.write('/counter', '10');
    await xs.write('/counter', String(n + 1), tx);
  });
  t.is(attempts, 2);
  t.is(xs.stats.transactionRetries, 1);
  t.is(await xs.readString('/counter'), '11');
});

test('a failing transaction body aborts the transaction and leaves the store unchanged', async (t) => {
  const { xs } = await dom0(t);
  await t.throwsAsync(xs.transaction(async (tx) => {
    await xs.write('/tx/a', '1', tx);
    throw new Error('body failed');
  }), { message: 'body failed' });
  t.is(await xs.tryRead('/tx/a'), undefined);
});

test('a guest uses relative paths under its domain and cannot write another guest\'s nodes', async (t) => {
  const { xs, guest } = await dom0(t);
  const g5 = await guest(5);
  await guest(6);
  await xs.mkdir('/local/domain/5/data');
  await xs.setPerms('/local/domain/5/data', ['n0', 'b5']);
  await g5.write('data/x', 'mine');
  t.is(await xs.readString('/local/domain/5/data/x'), 'mine');
  const err = await t.throwsAsync<VmanageError>(g5.write('/local/domain/6/x', 'theirs'));
  t.is(err?.code, 'PERMISSION_DENIED');
  t.deepEqual(await xs.getPerms('/local/domain/5/data/x'), ['n5', 'b5']);
});

test.serial('the Debian xenstore-write and xenstore-read tools interoperate with the client over the socket', async (t) => {
  const { xs, env } = await dom0(t);
  await run('xenstore-write', ['/from-cli', 'written by libxenstore'], { env });
  t.is(await xs.readString('/from-cli'), 'written by libxenstore');
  await xs.write('/from-node/k', 'written by vmanage');
  const { stdout } = await run('xenstore-read', ['/from-node/k'], { env });
  t.is(stdout.trim(), 'written by vmanage');
  const list = await run('xenstore-list', ['/from-node'], { env });
  t.is(list.stdout.trim(), 'k');
  await run('xenstore-rm', ['/from-node'], { env });
  t.is(await xs.tryRead('/from-node/k'), undefined);
  const missing = await t.throwsAsync(run('xenstore-read', ['/from-node/k'], { env }));
  t.truthy(missing);
});

test.serial('a watch set by the client fires for a write made by the Debian tool', async (t) => {
  const { xs, env } = await dom0(t);
  const events: string[] = [];
  let fired!: () => void;
  const done = new Promise<void>((r) => { fired = r; });
  await xs.watch('/cli', 'w1', (p) => {
    events.push(p);
    if (p === '/cli/k') fired();
  });
  await run('xenstore-write', ['/cli/k', 'v'], { env });
  await done;
  t.true(events.includes('/cli/k'));
});

test('a guest writing a value over the node size quota gets OutOfBounds (ENOSPC)', async (t) => {
  const { xs, guest } = await dom0(t);
  const g5 = await guest(5);
  await xs.mkdir('/local/domain/5/data');
  await xs.setPerms('/local/domain/5/data', ['n0', 'b5']);
  const err = await t.throwsAsync<VmanageError>(g5.write('data/big', Buffer.alloc(2048, 1)));
  t.is(err?.details['errno'], 'ENOSPC');
  await g5.write('data/ok', Buffer.alloc(1024, 1));
  t.is((await xs.read('/local/domain/5/data/ok')).length, 1024);
});

test.serial('xenstore-ls, xenstore-chmod and xenstore-watch (libxenstore) agree with the client on directories, permissions and watch events', async (t) => {
  const { xs, env, fixture } = await dom0(t);
  await xs.write('/tree/a', '1');
  await xs.write('/tree/b/c', 'two');
  const ls = await run('xenstore-ls', ['-f', '/tree'], { env });
  t.deepEqual(ls.stdout.trim().split('\n').sort(), ['/tree/a = "1"', '/tree/b = ""', '/tree/b/c = "two"']);
  await run('xenstore-chmod', ['/tree/a', 'n0', 'r5'], { env });
  t.deepEqual(await xs.getPerms('/tree/a'), ['n0', 'r5']);
  const lsp = await run('xenstore-ls', ['-p', '/tree'], { env });
  t.regex(lsp.stdout, /^a = "1"[ .]+\(n0,r5\)$/m);
  // xenstore-watch prints the initial fire and then one event per change; -n 2 stops after two.
  const watching = run('xenstore-watch', ['-n', '2', '/tree/b'], { env });
  await waitFor('xenstore-watch to set its watch', () => fixture.watchCount() > 0);
  await xs.write('/tree/b/c', 'three');
  const { stdout } = await watching;
  t.deepEqual(stdout.trim().split('\n'), ['/tree/b', '/tree/b/c']);
});


test.serial('the test xenstored also runs as its own process, for benchmarks and manual use', async (t) => {
  const dir = await tempDir(t, 'vmanage-xsd-proc-');
  const socket = join(dir, 'socket');
  await startProcess(t, process.execPath, ['--import', 'tsx', 'test/fixtures/xenstored/main.ts', '--socket', socket, '--guest', `3=${join(dir, 'g3')}`], { ready: /ready/ });
  const env = { ...process.env, XENSTORED_PATH: socket };
  await run('xenstore-write', ['/p', 'from a process'], { env });
  t.is((await run('xenstore-read', ['/p'], { env })).stdout.trim(), 'from a process');
  t.is((await run('xenstore-list', ['/local/domain'], { env })).stdout.trim(), '3');
});
