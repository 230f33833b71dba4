import test from 'ava';
import { once } from 'node:events';
import { pino } from 'pino';
import { createEtcdTerm, EtcdTerm, registerTermMetrics } from '../../src/daemons/leader/etcd-term.js';
import { Registry } from 'prom-client';
import type { TermSource } from '../../src/daemons/leader/term.js';
import { isVmanageError } from '../../src/domain/errors.js';
import { startEtcd } from '../support/etcd.js';
import { waitFor } from '../support/proc.js';

const log = pino({ level: 'silent' });

function term(t: { teardown(fn: () => unknown): void }, url: string, id: string, ttlSeconds = 2): EtcdTerm {
  const s = new EtcdTerm({ endpoints: [url], name: 'cluster-a', ttlSeconds, retryMs: 100 }, id, log);
  t.teardown(() => s.stop());
  return s;
}

/** Records every event of a term source, in order. */
function record(s: TermSource): string[] {
  const seen: string[] = [];
  s.events.on('elected', (token) => seen.push(`elected ${token}`));
  s.events.on('deposed', (reason) => seen.push(`deposed ${reason}`));
  s.events.on('leader', (id) => seen.push(`leader ${id ?? '-'}`));
  return seen;
}

/** Blocks this process's event loop (a real freeze: no timer, no keep-alive runs). */
function freeze(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

test.serial('the first candidate is elected with a positive token and a standby learns who leads', async (t) => {
  const etcd = await startEtcd(t);
  const a = term(t, etcd.url, 'leader-a');
  const elected = once(a.events, 'elected');
  await a.start();
  const [token] = await elected as [number];
  t.true(Number.isSafeInteger(token) && token > 0);
  t.is(a.token, token);
  const b = term(t, etcd.url, 'leader-b');
  const seenB = record(b);
  await b.start();
  await waitFor('b to see leader-a', () => b.leader === 'leader-a');
  t.is(b.token, undefined);
  t.deepEqual(seenB, ['leader leader-a']);
});

test.serial('stop resigns: the standby is elected at once with a larger token and both see it lead', async (t) => {
  const etcd = await startEtcd(t);
  const a = term(t, etcd.url, 'leader-a', 10);
  const seenA = record(a);
  const ea = once(a.events, 'elected');
  await a.start();
  const [tokenA] = await ea as [number];
  const b = term(t, etcd.url, 'leader-b', 10);
  await b.start();
  await waitFor('b to see leader-a', () => b.leader === 'leader-a');
  const eb = once(b.events, 'elected');
  const startedAt = performance.now();
  await a.stop();
  const [tokenB] = await eb as [number];
  const ms = performance.now() - startedAt;
  t.log(`hand-over after stop() with a 10 s TTL: ${ms.toFixed(0)} ms`);
  t.true(ms < 2000, `hand-over took ${ms} ms (a resign must not wait for the TTL)`);
  t.true(tokenB > tokenA);
  t.is(a.token, undefined);
  t.is(b.leader, 'leader-b');
  t.deepEqual(seenA.slice(0, 3), [`elected ${tokenA}`, 'leader leader-a', 'deposed resigned']);
  const registry = new Registry();
  registerTermMetrics(registry, a.counters);
  const text = await registry.metrics();
  t.regex(text, /^vmanage_leader_term_elected_total 1$/m);
  t.regex(text, /^vmanage_leader_term_deposed_total 1$/m);
  t.regex(text, /^vmanage_leader_term_lease_check_failures_total 0$/m);
});

test.serial('a process frozen past its lease TTL deposes itself at once and is elected again with a larger token', async (t) => {
  const etcd = await startEtcd(t);
  const a = term(t, etcd.url, 'leader-a', 1);
  const seen = record(a);
  const first = once(a.events, 'elected');
  await a.start();
  const [token1] = await first as [number];
  const deposed = once(a.events, 'deposed');
  freeze(1200);
  const [reason] = await deposed as [string];
  t.regex(reason, /stood still for \d+ ms/);
  t.is(a.token, undefined);
  t.is(a.counters.frozen, 1);
  const [token2] = await once(a.events, 'elected') as [number];
  t.true(token2 > token1, `${token2} > ${token1}`);
  t.true(seen.indexOf(`deposed ${reason}`) < seen.indexOf(`elected ${token2}`));
});

test.serial('with a TTL of 3 s a leader cut off from etcd deposes itself before its lease can expire', async (t) => {
  const etcd = await startEtcd(t);
  const a = term(t, etcd.url, 'leader-a', 3);
  const elected = once(a.events, 'elected');
  await a.start();
  await elected;
  await waitFor('a few lease confirmations', () => a.counters.leaseChecks >= 3);
  const deposed = once(a.events, 'deposed');
  const cutAt = performance.now();
  process.kill(etcd.process.pid, 'SIGSTOP');
  t.teardown(() => void process.kill(etcd.process.pid, 'SIGCONT'));
  const [reason] = await deposed as [string];
  const ms = performance.now() - cutAt;
  t.log(`deposed ${ms.toFixed(0)} ms after etcd stopped answering (TTL 3 s): ${reason}`);
  t.regex(reason, /has not confirmed the campaign lease/);
  // Before the TTL ran out (and well before the client's own detection, about TTL + 1 s).
  t.true(ms < 3000, `${ms} ms`);
  t.true(a.counters.leaseCheckFailures >= 1);
  const stopAt = performance.now();
  await a.stop();
  t.true(performance.now() - stopAt < 4500, 'stop() does not hang on an unreachable etcd');
});

test.serial('with a TTL under 3 s a leader cut off from etcd is deposed within about TTL + 1 s', async (t) => {
  const etcd = await startEtcd(t);
  const a = term(t, etcd.url, 'leader-a', 1);
  const elected = once(a.events, 'elected');
  await a.start();
  await elected;
  const deposed = once(a.events, 'deposed');
  const cutAt = performance.now();
  process.kill(etcd.process.pid, 'SIGSTOP');
  t.teardown(() => void process.kill(etcd.process.pid, 'SIGCONT'));
  const [reason] = await deposed as [string];
  const ms = performance.now() - cutAt;
  t.log(`deposed ${ms.toFixed(0)} ms after etcd stopped answering (TTL 1 s): ${reason}`);
  t.true(ms < 8000, `${ms} ms`);
  t.is(a.token, undefined);
});

test('configuration problems are refused with CONFIG_INVALID naming the field', (t) => {
  const empty = t.throws(() => createEtcdTerm({ endpoints: [], name: 'c' }, 'x', log));
  t.true(isVmanageError(empty, 'CONFIG_INVALID'));
  t.regex(empty.message, /etcd\.endpoints/);
  const tls = t.throws(() => createEtcdTerm({ endpoints: ['http://127.0.0.1:1'], name: 'c', tls: { ca: '/nonexistent/ca.crt', cert: '/x', key: '/y' } }, 'x', log));
  t.true(isVmanageError(tls, 'CONFIG_INVALID'));
  t.regex(tls.message, /etcd\.tls\.ca: cannot read \/nonexistent\/ca\.crt/);
});
