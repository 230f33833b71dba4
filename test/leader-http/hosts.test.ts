// The API and dashboard answer only to allowed Host names (DNS rebinding: a page whose name was
// re-pointed at the leader sends its own name as Host); HEAD /api/events answers the stream's
// headers without opening a stream.
import test from 'ava';
import fc from 'fast-check';
import { parseLeaderConfig } from '../../src/daemons/leader/config.js';
import { allowedHostSet, hostnameOf } from '../../src/daemons/leader/http-hosts.js';
import { httpOptionsFrom } from '../../src/daemons/leader/http.js';
import { call, quiet, startCluster } from './support.js';

interface ErrorBody { error: { code: string; message: string } }

test('a request whose Host is not an allowed name is refused and counted; localhost names and configured ones pass', async (t) => {
  const c = await startCluster(t, { http: { allowedHosts: ['leader.example'] } });
  const port = c.http.port;
  const cases: [string, string, number][] = [
    ['/api/status', `evil.example:${port}`, 403],
    ['/api/status', 'evil.example', 403],
    ['/', `evil.example:${port}`, 403],
    ['/api/status', '127.0.0.1.evil.example', 403],
    ['/api/status', 'a b', 403],
    ['/api/status', `localhost:${port}`, 200],
    ['/api/status', `127.0.0.1:${port}`, 200],
    ['/api/status', `[::1]:${port}`, 200],
    ['/api/status', `LEADER.example:${port}`, 200],
    ['/api/status', 'dash.localhost', 200],
    ['/metrics', `evil.example:${port}`, 200],
  ];
  for (const [path, host, status] of cases) {
    const r = await call<ErrorBody>(c.url, 'GET', path, undefined, { host });
    t.is(r.status, status, `${path} Host: ${host}`);
    if (status === 403) {
      t.is(r.body.error.code, 'PERMISSION_DENIED');
      t.regex(r.body.error.message, /is not an allowed name of this leader/);
    }
  }
  t.is(c.http.counters.rejected['/api/status forbidden-host'], 4);
  t.is(c.http.counters.rejected['/ forbidden-host'], 1);
});

test('HEAD /api/events answers the stream headers and opens no stream', async (t) => {
  const c = await startCluster(t);
  const r = await call(c.url, 'HEAD', '/api/events');
  t.is(r.status, 200);
  t.regex(String(r.headers['content-type']), /text\/event-stream/);
  t.is(r.text, '');
  t.is(c.http.sse.size, 0);
});

const names: [string, string | undefined][] = [
  ['localhost:8470', 'localhost'], ['[::1]:8470', '::1'], ['Leader.Example.', 'leader.example'], ['10.0.0.5', '10.0.0.5'],
  ['', undefined], ['a b', undefined], ['x:port', undefined], ['[zz]:1', undefined], ['.', undefined], [':80', undefined],
];
for (const [header, want] of names) {
  test(`the Host header ${JSON.stringify(header)} names ${String(want)}`, (t) => {
    t.is(hostnameOf(header), want);
  });
}

test('http.allowedHosts from the configuration reaches the server options; a wildcard bind address is no name', (t) => {
  const cfg = parseLeaderConfig({ id: 'cl1', listen: { unix: '/run/x.sock' }, store: { path: ':memory:' }, cluster: { budgetWatts: 100 }, http: { host: '0.0.0.0', allowedHosts: ['leader.example'] } });
  const o = httpOptionsFrom(cfg.http, quiet);
  t.deepEqual(o.allowedHosts, ['leader.example']);
  t.deepEqual([...allowedHostSet(o.host, o.allowedHosts)].sort(), ['127.0.0.1', '::1', 'leader.example', 'localhost']);
  t.true(allowedHostSet('10.0.0.5').has('10.0.0.5'));
});

test('any Host header parses to a name or to nothing, never throws; a name with a port parses to the name', (t) => {
  fc.assert(fc.property(fc.string({ maxLength: 400 }), (h) => {
    const n = hostnameOf(h);
    return n === undefined || (n.length > 0 && n === n.toLowerCase() && !/[\s/@]/.test(n));
  }), { numRuns: 2000 });
  const label = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/);
  fc.assert(fc.property(fc.array(label, { minLength: 1, maxLength: 4 }), fc.option(fc.integer({ min: 1, max: 65_535 })), (labels, port) => {
    const name = labels.join('.');
    return hostnameOf(`${name.toUpperCase()}${port === null ? '' : `:${port}`}`) === name;
  }));
  t.pass();
});
