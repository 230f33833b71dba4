import test from 'ava';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { createConnection } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { listenHttp, listenUnix, type PushCounters } from '../../src/daemons/agent/push.js';
import { PushStore, scrape } from '../../src/daemons/agent/sla.js';
import { freePort, tempDir } from '../support/proc.js';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;

function lineClient(path: string): { send(line: string): Promise<string>; close(): void } {
  const sock = createConnection(path);
  let buf = '';
  const waiters: ((l: string) => void)[] = [];
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) { const l = buf.slice(0, nl); buf = buf.slice(nl + 1); waiters.shift()?.(l); }
  });
  return { send: (line) => new Promise((r) => { waiters.push(r); sock.write(line); }), close: () => sock.destroy() };
}

test('applications push measurements over the unix socket; bad lines are rejected and counted', async (t) => {
  const dir = await tempDir(t);
  const store = new PushStore(new Set(['lat']), () => 0);
  const counters: PushCounters = { accepted: 0, rejected: 0 };
  const srv = await listenUnix(join(dir, 'push.sock'), store, counters);
  t.teardown(() => srv.close());
  const c = lineClient(join(dir, 'push.sock'));
  t.teardown(() => c.close());
  t.is(await c.send('{"name":"lat","value":12.5}\n'), 'ok');
  t.is(await c.send('{"name":"other","value":1}\n'), 'rejected');
  t.is(await c.send('not json\n'), 'rejected');
  t.is(await c.send(`${'x'.repeat(10_000)}\n`), 'rejected', 'an over-long line is not even parsed');
  t.is(await c.send('{"name":"lat","value":3}\n'), 'ok');
  t.is(store.get('lat', 1), 3);
  t.deepEqual(counters, { accepted: 2, rejected: 3 });
  t.is(await c.send(`${'y'.repeat(5000)}`), 'rejected', 'a line growing past 4 KiB is dropped before its end arrives');
});

test('applications push measurements over HTTP', async (t) => {
  const store = new PushStore(new Set(['a', 'b']), () => 0);
  const counters: PushCounters = { accepted: 0, rejected: 0 };
  const port = await freePort();
  const srv = await listenHttp('127.0.0.1', port, store, counters);
  t.teardown(() => srv.close());
  const post = (body: string) => fetch(`http://127.0.0.1:${port}/v1/measurements`, { method: 'POST', body });
  t.is((await post('[{"name":"a","value":1},{"name":"b","value":2}]')).status, 200);
  t.is((await post('{"name":"zzz","value":1}')).status, 400);
  t.is((await post('x'.repeat(70_000))).status, 413);
  t.is((await fetch(`http://127.0.0.1:${port}/other`)).status, 404);
  t.is(store.get('b', 1), 2);
});

test('a Prometheus scrape is bounded in size and time', async (t) => {
  const server = createServer((req, res) => {
    if (req.url === '/slow') return;
    if (req.url === '/big') { res.end('x'.repeat(5 << 20)); return; }
    res.end('up 1\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => { server.closeAllConnections(); server.close(); });
  const port = (server.address() as { port: number }).port;
  t.is(await scrape(`http://127.0.0.1:${port}/metrics`), 'up 1\n');
  await t.throwsAsync(scrape(`http://127.0.0.1:${port}/big`), { message: /larger than/ });
  await t.throwsAsync(scrape(`http://127.0.0.1:${port}/slow`, 200), { message: /no answer in 200 ms/ });
});

test('the bundled agent prints its help, and exits 2 naming every configuration problem', async (t) => {
  await run(process.execPath, [join(root, 'scripts/bundle.mjs')], { cwd: root });
  const agent = join(root, 'dist/bundle/vmanage-agent.js');
  const help = await run(process.execPath, [agent, '--help']);
  t.regex(help.stdout, /--config PATH/);
  const dir = await tempDir(t);
  await writeFile(join(dir, 'bad.json'), JSON.stringify({ reportMs: 0, objectives: [{ name: 'x', source: 'nope' }] }));
  const err = await t.throwsAsync(run(process.execPath, [agent, '--config', join(dir, 'bad.json')]));
  t.is((err as unknown as { code: number }).code, 2);
  const stderr = (err as unknown as { stderr: string }).stderr;
  t.regex(stderr, /reportMs: expected a number/);
  t.regex(stderr, /objectives\[0\]\.source: expected one of/);
  const xen = await t.throwsAsync(run(process.execPath, [agent, '--xenstore', '--config', '/dev/null/none.json']));
  t.is((xen as unknown as { code: number }).code, 2, 'a missing explicit config file is a configuration error');
});
