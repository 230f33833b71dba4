import test from 'ava';
import { Etcd3 } from 'etcd3';
import { fileURLToPath } from 'node:url';
import { LeaderElection } from '../../src/adapters/etcd/election.js';
import { checkFence, compareTokens } from '../../src/domain/leader/fencing.js';
import { isVmanageError } from '../../src/domain/errors.js';
import { startEtcd } from '../support/etcd.js';
import { startProcess, waitFor, type Started } from '../support/proc.js';

const CANDIDATE = fileURLToPath(new URL('./fixtures/candidate.ts', import.meta.url));
const KEY = 'vmanage/test/owner';
const TTL = 4;

interface Ev { ev: string; id: string; t: number; token?: string; ok?: boolean; code?: string; reason?: string; sentAt?: number }

function events(c: Started): Ev[] {
  return c.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Ev);
}

async function candidate(t: Parameters<typeof startEtcd>[0], url: string, id: string): Promise<Started> {
  return await startProcess(t, process.execPath, ['--import', 'tsx', CANDIDATE, url, 'cluster-a', id, String(TTL)], { stdio: ['pipe', 'pipe', 'pipe'], ready: /"ev":"started"/, readyTimeoutMs: 30_000 });
}

async function elected(c: Started, timeoutMs = 15_000): Promise<Ev> {
  return await waitFor(`${c.pid} elected`, () => events(c).find((e) => e.ev === 'elected'), timeoutMs, 20);
}

test.serial('a standby takes over within 5 s of a kill -9 of the leader process, with a newer fencing token', async (t) => {
  const etcd = await startEtcd(t);
  const a = await candidate(t, etcd.url, 'A');
  const ea = await elected(a);
  const b = await candidate(t, etcd.url, 'B');
  await waitFor('A writing as leader', () => events(a).some((e) => e.ev === 'write' && e.ok));
  t.false(events(b).some((e) => e.ev === 'elected'));
  const killedAt = Date.now();
  process.kill(a.pid, 'SIGKILL');
  const eb = await elected(b, 15_000);
  const failoverMs = eb.t - killedAt;
  t.log(`failover after kill -9 with a ${TTL} s TTL: ${failoverMs} ms`);
  t.true(failoverMs < 5000, `failover took ${failoverMs} ms`);
  t.is(compareTokens(eb.token as string, ea.token as string), 1);
});

test.serial('a resigning leader hands over at once', async (t) => {
  const etcd = await startEtcd(t);
  const a = await candidate(t, etcd.url, 'A');
  await elected(a);
  const b = await candidate(t, etcd.url, 'B');
  const sentAt = Date.now();
  a.child.stdin?.write('resign\n');
  const eb = await elected(b, 5000);
  const handoverMs = eb.t - sentAt;
  t.log(`hand-over after resign: ${handoverMs} ms`);
  t.true(handoverMs < 1000, `hand-over took ${handoverMs} ms`);
  t.true(events(a).some((e) => e.ev === 'deposed' && e.reason === 'resigned'));
});

test.serial('a deposed leader that wakes up is fenced: etcd refuses its writes and hosts refuse its token', async (t) => {
  const etcd = await startEtcd(t);
  const a = await candidate(t, etcd.url, 'A');
  const ea = await elected(a);
  const b = await candidate(t, etcd.url, 'B');
  process.kill(a.pid, 'SIGSTOP');
  t.teardown(() => void (a.child.exitCode === null && process.kill(a.pid, 'SIGCONT')));
  const eb = await elected(b, 15_000);
  await waitFor('B writing as leader', () => events(b).some((e) => e.ev === 'write' && e.ok));
  process.kill(a.pid, 'SIGCONT');
  await waitFor('A to notice it was deposed', () => events(a).some((e) => e.ev === 'deposed'), 15_000);
  // Writes A sent after B was elected (one sent before the stop may complete after it: that is fine).
  const lateWrites = events(a).filter((e) => e.ev === 'write' && (e.sentAt as number) >= eb.t);
  t.log(`A's write attempts after B was elected: ${lateWrites.length}, all refused`);
  t.true(lateWrites.every((e) => !e.ok), JSON.stringify(lateWrites));
  const client = new Etcd3({ hosts: etcd.url });
  t.teardown(() => client.close());
  t.is(await client.get(KEY).string(), 'B');
  const host = checkFence(eb.token, ea.token as string);
  t.false(host.ok);
  t.like(host, { reason: 'stale-token', newest: eb.token });
});

test.serial('fenced writes are refused with NOT_LEADER before an election is won', async (t) => {
  const etcd = await startEtcd(t);
  const client = new Etcd3({ hosts: etcd.url });
  t.teardown(() => client.close());
  const e = new LeaderElection(client, { name: 'x', id: 'solo', ttlSeconds: 2 });
  const err = await t.throwsAsync(e.fencedPut('k', 'v'));
  t.true(isVmanageError(err, 'NOT_LEADER'));
  const token = new Promise<string>((resolve) => e.once('elected', resolve));
  e.start();
  t.regex(await token, /^[1-9][0-9]*$/);
  await e.fencedPut('k', 'v');
  t.is(await client.get('k').string(), 'v');
  t.is(await e.leader(), 'solo');
  await e.resign();
  t.false(e.isLeader);
});

test.serial('a leader whose campaign key vanished is fenced on its next write and deposed at once', async (t) => {
  const etcd = await startEtcd(t);
  const client = new Etcd3({ hosts: etcd.url });
  t.teardown(() => client.close());
  const e = new LeaderElection(client, { name: 'y', id: 'A', ttlSeconds: 5, retryMs: 60_000 });
  t.teardown(() => e.resign());
  const token = new Promise<string>((resolve) => e.once('elected', resolve));
  e.start();
  await token;
  const deposed = new Promise<string>((resolve) => e.once('deposed', resolve));
  await client.delete().prefix('election/y/');
  const err = await t.throwsAsync(e.fencedPut('k', 'from A'));
  t.true(isVmanageError(err, 'STALE_FENCING_TOKEN'));
  t.regex(await deposed, /fenced/);
  t.false(e.isLeader);
  t.is(await client.get('k').string(), null);
});
