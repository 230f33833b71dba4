// GET /api/events: the leader's events as server-sent events, keep-alive comments, a client that
// stops reading is dropped (bounded queue) while a reading client carries on, and a full hub
// refuses more streams.
import test from 'ava';
import { request, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { setImmediate as tick } from 'node:timers/promises';
import { waitFor } from '../support/proc.js';
import { call, startCluster, uuidOf } from './support.js';

interface Stream { readonly text: () => string; readonly events: () => { event: string; data: unknown }[]; close(): void; res: IncomingMessage }

function openStream(url: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/api/events`, { headers: { accept: 'text/event-stream' } }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => { buf += s; });
      res.on('error', () => {});
      resolve({
        res,
        text: () => buf,
        events: () => buf.split('\n\n').flatMap((frame) => {
          const ev = /^event: (.+)$/m.exec(frame);
          const data = /^data: (.+)$/m.exec(frame);
          return ev && data ? [{ event: ev[1] as string, data: JSON.parse(data[1] as string) as unknown }] : [];
        }),
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}

test('the event stream carries the leader\'s decisions, power samples and keep-alive comments', async (t) => {
  const c = await startCluster(t, { hosts: { h1: [{ uuid: uuidOf(1), cpuUtil: 0.5 }], h2: [] }, http: { sse: { keepAliveMs: 100 } } });
  const s = await openStream(c.url);
  t.teardown(() => s.close());
  t.is(s.res.statusCode, 200);
  t.regex(String(s.res.headers['content-type']), /^text\/event-stream/);
  const put = await call<{ decisions: { id: number }[] }>(c.url, 'PUT', '/api/budgets', { watts: 420 });
  const ids = put.body.decisions.map((d) => d.id);
  t.true(ids.length > 0);
  await waitFor('decision events', () => ids.every((id) => s.events().some((e) => e.event === 'decision' && (e.data as { id: number }).id === id)));
  await waitFor('a power sample with the new budget', () => s.events().some((e) => e.event === 'power' && (e.data as { clusterBudgetWatts: number }).clusterBudgetWatts === 420));
  await waitFor('keep-alive', () => s.text().includes(': keep-alive\n\n'));
  t.pass();
});

test('a client that stops reading is dropped while a reading client keeps its stream', async (t) => {
  const c = await startCluster(t, { hosts: { h1: [] }, http: { sse: { maxQueue: 64, maxQueueBytes: 256 * 1024 } } });
  const port = new URL(c.url).port;
  const slow = connect(Number(port), '127.0.0.1');
  t.teardown(() => slow.destroy());
  slow.on('error', () => {});
  await new Promise<void>((resolve) => slow.once('connect', () => resolve()));
  slow.write(`GET /api/events HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\naccept: text/event-stream\r\n\r\n`);
  await waitFor('the slow client is streaming', () => c.http.sse.size === 1);
  slow.pause();
  const fast = await openStream(c.url);
  t.teardown(() => fast.close());
  await waitFor('both streaming', () => c.http.sse.size === 2);

  // Flood through the leader's own event bus (what the core emits on every tick), in batches so
  // the reading client gets to read between them.
  let sent = 0;
  while (c.http.sse.counters.dropped === 0 && sent < 400_000) {
    for (let i = 0; i < 200; i++, sent++) c.leader.events.emit('power', { at: sent, clusterWatts: 123.456, clusterBudgetWatts: 1000 });
    await tick();
  }
  t.is(c.http.sse.counters.dropped, 1, `dropped after ${sent} events`);
  t.is(c.http.sse.size, 1, 'the reading client is still there');
  c.leader.events.emit('power', { at: -1, clusterWatts: 1, clusterBudgetWatts: 2 });
  await waitFor('the reading client sees the last event', () => fast.text().includes('"at":-1'));
  const m = await call(c.url, 'GET', '/metrics');
  t.regex(m.text, /vmanage_http_sse_dropped_total 1/);
  t.regex(m.text, /vmanage_http_rejected_total\{route="\/api\/events",reason="slow-client"\} 1/);
});

test('streams beyond the limit are refused with 503', async (t) => {
  const c = await startCluster(t, { http: { sse: { maxClients: 2 } } });
  const a = await openStream(c.url);
  const b = await openStream(c.url);
  t.teardown(() => { a.close(); b.close(); });
  const third = await call<{ error: { code: string; message: string } }>(c.url, 'GET', '/api/events');
  t.is(third.status, 503);
  t.regex(third.body.error.message, /already 2 event streams open/);
  a.close();
  await waitFor('a stream closed', () => c.http.sse.size === 1);
  const again = await openStream(c.url);
  t.teardown(() => again.close());
  t.is(again.res.statusCode, 200);
});

test('an event that does not serialise is skipped and counted, never thrown into the leader', async (t) => {
  const c = await startCluster(t);
  const s = await openStream(c.url);
  t.teardown(() => s.close());
  t.notThrows(() => c.leader.events.emit('power', { at: 1, clusterWatts: 10n as unknown as number, clusterBudgetWatts: 1 }));
  t.is(c.http.sse.counters.unserialisable, 1);
  c.leader.events.emit('power', { at: -7, clusterWatts: 1, clusterBudgetWatts: 2 });
  await waitFor('the next event', () => s.text().includes('"at":-7'));
  t.pass();
});
