// Hostile HTTP against the leader's API: every bad body, param or query answers 4xx with a code
// and a message naming the field, is counted, and never breaks the server (fast-check on every
// PUT/POST route, then a plain GET must still answer).
import test from 'ava';
import fc from 'fast-check';
import { BODY_LIMIT_BYTES } from '../../src/daemons/leader/http.js';
import { call, startCluster, uuidOf } from './support.js';

interface ErrorBody { error: { code: string; message: string; field?: string } }

const ACTION_ROUTES: [string, string][] = [
  ['PUT', '/api/budgets'],
  ['POST', '/api/place'],
  ['POST', `/api/vms/${uuidOf(1)}/migrate`],
  ['POST', '/api/hosts/h1/drain'],
  ['POST', '/api/hosts/h1/undrain'],
  ['POST', '/api/plan'],
];

const BAD: { name: string; method: string; path: string; body?: unknown; headers?: Record<string, string>; status: number; field?: string; message: RegExp }[] = [
  { name: 'a budget that is not a number', method: 'PUT', path: '/api/budgets', body: { watts: 'lots' }, status: 400, field: 'body.watts', message: /^body\.watts: expected number$/ },
  { name: 'a budget with no watts', method: 'PUT', path: '/api/budgets', body: { dryRun: true }, status: 400, field: 'body.watts', message: /^body\.watts: required$/ },
  { name: 'a negative budget', method: 'PUT', path: '/api/budgets', body: { watts: -5 }, status: 400, field: 'body.watts', message: /body\.watts: must be > 0/ },
  { name: 'an unknown field', method: 'PUT', path: '/api/budgets', body: { watts: 5, wats: 6 }, status: 400, field: 'body.wats', message: /^body\.wats: unknown field$/ },
  { name: 'a dryRun that is a string', method: 'POST', path: '/api/plan', body: { dryRun: 'yes' }, status: 400, field: 'body.dryRun', message: /expected boolean/ },
  { name: 'a placement with no memory', method: 'POST', path: '/api/place', body: { vcpus: 1 }, status: 400, field: 'body.memoryMiB', message: /required/ },
  { name: 'an unknown SLA class', method: 'POST', path: '/api/place', body: { vcpus: 1, memoryMiB: 1, slaClass: 'platinum' }, status: 400, field: 'body.slaClass', message: /expected one of "gold", "silver", "bronze"/ },
  { name: 'a fractional vCPU count', method: 'POST', path: '/api/place', body: { vcpus: 1.5, memoryMiB: 1 }, status: 400, field: 'body.vcpus', message: /expected integer/ },
  { name: 'a VM that is not a UUID', method: 'POST', path: '/api/vms/not-a-uuid/migrate', body: {}, status: 400, field: 'params.uuid', message: /params\.uuid: expected a value matching/ },
  { name: 'a limit that is not a number', method: 'GET', path: '/api/decisions?limit=abc', status: 400, field: 'querystring.limit', message: /querystring\.limit/ },
  { name: 'a limit too large', method: 'GET', path: '/api/decisions?limit=5000', status: 400, field: 'querystring.limit', message: /expected 1\.\.1000, got 5000/ },
  { name: 'an unknown query parameter', method: 'GET', path: '/api/migrations?sort=1', status: 400, field: 'querystring.sort', message: /unknown field/ },
  { name: 'a decision id that is not a number', method: 'GET', path: '/api/decisions/x1', status: 400, field: 'params.id', message: /params\.id/ },
  { name: 'JSON that does not parse', method: 'POST', path: '/api/plan', body: '{"dryRun": tru', status: 400, message: /JSON/i },
  { name: 'a __proto__ key', method: 'POST', path: '/api/plan', body: '{"__proto__": {"dryRun": true}}', status: 400, message: /not valid JSON/ },
  { name: 'a body over 64 KiB', method: 'POST', path: '/api/place', body: JSON.stringify({ name: 'x'.repeat(BODY_LIMIT_BYTES) }), status: 413, message: /too large/i },
  { name: 'a body that is not JSON', method: 'POST', path: '/api/plan', body: 'dryRun=true', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415, message: /unsupported media type/i },
];

test('bad requests answer 4xx with the field named, and are counted per route and reason', async (t) => {
  const c = await startCluster(t, { hosts: { h1: [{ uuid: uuidOf(1), cpuUtil: 0.3 }] } });
  for (const b of BAD) {
    const r = await call<ErrorBody>(c.url, b.method, b.path, b.body, b.headers);
    t.is(r.status, b.status, b.name);
    t.is(typeof r.body.error?.code, 'string', b.name);
    t.regex(r.body.error.message, b.message, b.name);
    if (b.field !== undefined) t.is(r.body.error.field, b.field, b.name);
  }
  t.is(c.http.counters.rejected['/api/budgets invalid-body'], 4);
  t.is(c.http.counters.rejected['/api/place too-large'], 1);
  t.is(c.http.counters.rejected['/api/decisions invalid-querystring'], 2);
  t.is(c.leader.status().clusterBudgetWatts, 1000, 'no bad request changed anything');
});

test('random bodies on every action route never get a 5xx and the server keeps serving', async (t) => {
  const c = await startCluster(t, { hosts: { h1: [{ uuid: uuidOf(1), cpuUtil: 0.3 }] } });
  // Mostly invalid: arbitrary JSON values, objects with the routes' field names and wrong values.
  const field = fc.constantFrom('watts', 'dryRun', 'vcpus', 'memoryMiB', 'to', 'slaClass', 'minTrust', 'cpuUtil', 'name', '__proto__', 'constructor');
  const value = fc.oneof(fc.jsonValue(), fc.string(), fc.double(), fc.constant(null));
  const body = fc.oneof(
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc.dictionary(field, value).map((o) => JSON.stringify(o)),
    fc.string({ maxLength: 200 }),
  );
  let answered = 0;
  await fc.assert(fc.asyncProperty(fc.constantFrom(...ACTION_ROUTES), body, async ([method, path], raw) => {
    const r = await call<ErrorBody>(c.url, method, path, raw);
    answered++;
    if (r.status >= 500 && r.status !== 503) return false;
    if (r.status >= 400) return typeof r.body.error?.code === 'string' && r.body.error.message.length > 0;
    return r.status === 200;
  }), { numRuns: 300 });
  await fc.assert(fc.asyncProperty(fc.string({ minLength: 1, maxLength: 80 }), fc.constantFrom('drain', 'undrain', 'migrate'), async (id, verb) => {
    const path = verb === 'migrate' ? `/api/vms/${encodeURIComponent(id)}/migrate` : `/api/hosts/${encodeURIComponent(id)}/${verb}`;
    const r = await call<ErrorBody>(c.url, 'POST', path, { dryRun: true });
    return r.status >= 400 && r.status < 500 && typeof r.body.error?.message === 'string';
  }), { numRuns: 200 });
  const query = fc.dictionary(fc.constantFrom('limit', 'before', 'x', ''), fc.oneof(fc.string({ maxLength: 30 }), fc.integer().map(String), fc.double().map(String)), { maxKeys: 3 });
  await fc.assert(fc.asyncProperty(fc.constantFrom('/api/decisions', '/api/migrations'), query, async (path, q) => {
    const r = await call<ErrorBody>(c.url, 'GET', `${path}?${new URLSearchParams(q).toString()}`);
    return r.status === 200 ? Array.isArray(r.body) : r.status === 400 && r.body.error.message.startsWith('querystring');
  }), { numRuns: 200 });
  t.true(answered >= 300);
  const status = await call(c.url, 'GET', '/api/status');
  t.is(status.status, 200);
  t.true(Object.keys(c.http.counters.rejected).length > 0);
});
