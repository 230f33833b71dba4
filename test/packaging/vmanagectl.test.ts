// vmanagectl against a real unix socket server standing in for the host daemon's control socket.
import test from 'ava';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { requestStatus, run } from '../../src/cli/vmanagectl.js';
import { tempDir } from '../support/proc.js';

const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

async function serve(t: { teardown(fn: () => unknown): void }, onLine: (line: string, s: Socket) => void): Promise<string> {
  const path = join(await tempDir(t), 'control.sock');
  const server: Server = createServer((s) => {
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (c: string) => {
      buf += c;
      const nl = buf.indexOf('\n');
      if (nl >= 0) onLine(buf.slice(0, nl), s);
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return path;
}

async function ctl(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(argv, { out: (s) => { out += s; }, err: (s) => { err += s; } });
  return { code, out, err };
}

test('--version prints the version from package.json and exits 0', async (t) => {
  const r = await ctl(['--version']);
  t.is(r.code, 0);
  t.is(r.out.trim(), version);
});

test('an unknown command is a usage error (exit 2)', async (t) => {
  const r = await ctl(['frobnicate']);
  t.is(r.code, 2);
  t.regex(r.err, /unknown command/);
});

test('status sends one status request and prints the daemon\'s answer', async (t) => {
  const seen: string[] = [];
  const path = await serve(t, (line, s) => { seen.push(line); s.end('{"host":"h1","vms":2}\n'); });
  const r = await ctl(['status', '--socket', path, '--json']);
  t.is(r.code, 0, r.err);
  t.deepEqual(seen.map((l) => JSON.parse(l)), [{ op: 'status' }]);
  t.deepEqual(JSON.parse(r.out), { host: 'h1', vms: 2 });
});

test('status says clearly it cannot reach a daemon that is not there, and exits 1', async (t) => {
  const path = join(await tempDir(t), 'absent.sock');
  const r = await ctl(['status', '--socket', path]);
  t.is(r.code, 1);
  t.true(r.err.includes(`cannot reach the host daemon at ${path}: ENOENT`), r.err);
});

const badPeers: Array<[string, (s: Socket) => void, RegExp]> = [
  ['an answer that is not JSON', (s) => s.end('hello\n'), /not JSON/],
  ['a close without an answer', (s) => s.end(), /closed without an answer/],
  ['an answer without end of line beyond 1 MiB', (s) => s.write('x'.repeat((1 << 20) + 10)), /longer than/],
];
for (const [what, peer, message] of badPeers) {
  test(`status rejects ${what} with exit 1`, async (t) => {
    const path = await serve(t, (_line, s) => peer(s));
    const r = await ctl(['status', '--socket', path]);
    t.is(r.code, 1);
    t.regex(r.err, message);
  });
}

test('a daemon that never answers is given up on after the timeout', async (t) => {
  const path = await serve(t, () => undefined);
  await t.throwsAsync(requestStatus(path, 100), { message: /no answer from .* within 100 ms/ });
});
