import test from 'ava';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { pino } from 'pino';
import { systemClock } from '../../src/adapters/clock.js';
import { JoinTokens } from '../../src/adapters/pki/tokens.js';
import { joinPlugin } from '../../src/daemons/leader/join.js';
import { Channel, tlsConnector } from '../../src/mchannel/index.js';
import { fixtureRegistry } from '../mchannel/fixtures/registry.js';
import { startProcess, tempDir, type Started, type Teardown } from '../support/proc.js';

const CTL = join(import.meta.dirname, 'fixtures', 'ctl.ts');
const PEER = join(import.meta.dirname, '..', 'mchannel', 'fixtures', 'peer.ts');
const hookBody = { object: 'qemu', operation: 'start', subOperation: 'begin', extra: '-', vm: { uuid: '4dea22b3-1d52-d8f3-2516-782e98ab3fa0', name: 'vm1' } };

interface Ran { code: number; out: string; err: string }

/** Runs the certificate commands as their own process, as an operator would. */
async function ctl(...args: string[]): Promise<Ran> {
  return await new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', CTL, ...args], { timeout: 60_000 }, (error, out, err) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out, err });
    });
  });
}

async function ok(t: { is(a: unknown, b: unknown, m?: string): void }, ...args: string[]): Promise<string> {
  const r = await ctl(...args);
  t.is(r.code, 0, `${args.join(' ')}: ${r.err}`);
  return r.out;
}

/** The M-channel peer process (test/mchannel/fixtures/peer.ts) serving mTLS with the given files. */
async function peer(t: Teardown, ca: string, cert: string, key: string): Promise<{ proc: Started; port: number }> {
  const proc = await startProcess(t, process.execPath, ['--import', 'tsx', PEER, 'tls', ca, cert, key], { ready: /listening \S+/, readyTimeoutMs: 30_000 });
  return { proc, port: Number(/listening \S+:(\d+)/.exec(proc.output())?.[1]) };
}

/** Whether a raw mTLS connection is refused (connect fails, or the server closes it at once). */
async function refused(port: number, serverName: string, files: { ca: string; cert: string; key: string }): Promise<string> {
  try {
    const conn = await tlsConnector({ host: '127.0.0.1', port, serverName, ca: readFileSync(files.ca), cert: readFileSync(files.cert), key: readFileSync(files.key) }).connect(AbortSignal.timeout(10_000));
    return await new Promise<string>((resolve) => {
      const timer = setTimeout(() => { conn.stream.destroy(); resolve('still open'); }, 5000);
      conn.stream.once('close', () => { clearTimeout(timer); resolve('closed by the server'); });
      conn.stream.resume();
    });
  } catch (err) {
    return `connect failed: ${(err as Error).message}`;
  }
}

test('certificates from ca init / ca issue / ca token / join carry an mTLS M-channel between two processes; a reused token is refused', async (t) => {
  const base = await tempDir(t);
  const caDir = join(base, 'leader-pki');
  const hostDir = join(base, 'host-pki');
  await ok(t, 'ca', 'init', '--dir', caDir, '--name', 'cluster-ca');
  const [, tokenOut] = await Promise.all([
    ok(t, 'ca', 'issue', '--name', 'leader-a', '--dir', caDir, '--san', 'leader-a,127.0.0.1'),
    ok(t, 'ca', 'token', '--name', 'host-1', '--dir', caDir, '--ttl', '10m', '--json'),
  ]);
  const token = (JSON.parse(tokenOut) as { token: string }).token;
  // The leader's join endpoint over the same CA directory.
  const app = Fastify();
  const plugin = joinPlugin({ caDir, tokens: new JoinTokens(join(caDir, 'tokens.json'), systemClock), log: pino({ level: 'silent' }), reservedNames: ['leader-a'] });
  await app.register(plugin);
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const pin = new X509Certificate(readFileSync(join(caDir, 'ca.crt'))).fingerprint256;
  const joined = await ok(t, 'join', '--leader', url, '--token', token, '--name', 'host-1', '--dir', hostDir, '--ca-sha256', pin);
  t.regex(joined, /key .*host-1\.key \(mode 0600, made here\)/);
  const again = await ctl('join', '--leader', url, '--token', token, '--name', 'host-1', '--dir', join(base, 'again'));
  t.is(again.code, 1);
  t.regex(again.err, /refused \(401\): the token was already used/);

  const leader = await peer(t, join(caDir, 'ca.crt'), join(caDir, 'leader-a.crt'), join(caDir, 'leader-a.key'));
  const ch = Channel.client(tlsConnector({
    host: '127.0.0.1', port: leader.port, serverName: 'leader-a',
    ca: readFileSync(join(hostDir, 'ca.crt')), cert: readFileSync(join(hostDir, 'host-1.crt')), key: readFileSync(join(hostDir, 'host-1.key')),
  }), { role: 'host', validator: fixtureRegistry, backoffMinMs: 20, backoffMaxMs: 200 });
  t.teardown(() => ch.close());
  await ch.whenConnected();
  t.is(ch.peer?.id, 'leader-a');
  t.deepEqual(await ch.request('hook.event', hookBody, { timeoutMs: 10_000 }), { allow: true, reason: 'peer host-1' });
});

test('mTLS refuses a host certificate from a foreign CA and a server whose CN is not the expected leader', async (t) => {
  const base = await tempDir(t);
  const caDir = join(base, 'ca');
  const rogueDir = join(base, 'rogue');
  await Promise.all([ok(t, 'ca', 'init', '--dir', caDir), ok(t, 'ca', 'init', '--dir', rogueDir, '--name', 'rogue-ca')]);
  await Promise.all([
    ok(t, 'ca', 'issue', '--name', 'leader-a', '--dir', caDir),
    ok(t, 'ca', 'issue', '--name', 'leader-b', '--dir', caDir),
    ok(t, 'ca', 'issue', '--name', 'host-1', '--dir', caDir),
    ok(t, 'ca', 'issue', '--name', 'host-1', '--dir', rogueDir),
  ]);
  const ca = join(caDir, 'ca.crt');
  const [a, b] = await Promise.all([
    peer(t, ca, join(caDir, 'leader-a.crt'), join(caDir, 'leader-a.key')),
    peer(t, ca, join(caDir, 'leader-b.crt'), join(caDir, 'leader-b.key')),
  ]);
  const foreign = await refused(a.port, 'leader-a', { ca, cert: join(rogueDir, 'host-1.crt'), key: join(rogueDir, 'host-1.key') });
  t.regex(foreign, /closed by the server|connect failed/);
  const wrongLeader = await refused(b.port, 'leader-a', { ca, cert: join(caDir, 'host-1.crt'), key: join(caDir, 'host-1.key') });
  t.regex(wrongLeader, /connect failed: .*server certificate is for "leader-b", expected "leader-a"/);
  // The same host certificate from the cluster CA is accepted by the same server.
  const ch = Channel.client(tlsConnector({ host: '127.0.0.1', port: a.port, serverName: 'leader-a', ca: readFileSync(ca), cert: readFileSync(join(caDir, 'host-1.crt')), key: readFileSync(join(caDir, 'host-1.key')) }),
    { role: 'host', validator: fixtureRegistry, backoffMinMs: 20, backoffMaxMs: 200 });
  t.teardown(() => ch.close());
  await ch.whenConnected();
  t.deepEqual(await ch.request('hook.event', hookBody, { timeoutMs: 10_000 }), { allow: true, reason: 'peer host-1' });
});

test('the ca commands refuse bad input with exit status 1 and say why', async (t) => {
  const dir = join(await tempDir(t), 'ca');
  const [noCa, badTtl] = await Promise.all([
    ctl('ca', 'issue', '--name', 'h1', '--dir', dir),
    ctl('ca', 'token', '--name', 'h1', '--dir', dir, '--ttl', 'soon'),
  ]);
  t.is(noCa.code, 1);
  t.regex(noCa.err, /no CA certificate in .*run "vmanagectl ca init/);
  t.is(badTtl.code, 1);
  t.regex(badTtl.err, /--ttl: expected a duration/);
});
