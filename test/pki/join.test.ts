import test from 'ava';
import fc from 'fast-check';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { pino } from 'pino';
import { initCa, issueCert, makeCsr, newKey } from '../../src/adapters/pki/ca.js';
import { groupId, joinLeader } from '../../src/adapters/pki/join-client.js';
import { JoinTokens } from '../../src/adapters/pki/tokens.js';
import { joinPlugin, registerJoinMetrics, type JoinPlugin } from '../../src/daemons/leader/join.js';
import { Registry } from 'prom-client';
import { ManualClock } from '../../src/domain/clock.js';
import { isVmanageError } from '../../src/domain/errors.js';
import { tempDir } from '../support/proc.js';

interface Leader { url: string; caDir: string; tokens: JoinTokens; clock: ManualClock; plugin: JoinPlugin; bodies: unknown[] }

/** A real HTTP server with the join plugin over a fresh CA; records every request body it got. */
async function leader(t: { teardown(fn: () => unknown): void }): Promise<Leader> {
  const caDir = join(await tempDir(t), 'ca');
  await initCa(caDir, { name: 'cluster-ca' });
  const clock = new ManualClock(Date.now());
  const tokens = new JoinTokens(join(caDir, 'tokens.json'), clock);
  const plugin = joinPlugin({ caDir, tokens, log: pino({ level: 'silent' }), reservedNames: ['leader-a'] });
  const app = Fastify();
  const bodies: unknown[] = [];
  app.addHook('preHandler', async (req) => { bodies.push(req.body); });
  await app.register(plugin);
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const addr = app.server.address() as { port: number };
  return { url: `http://127.0.0.1:${addr.port}`, caDir, tokens, clock, plugin, bodies };
}

test('a host joins with a one-time token: its key is made and kept locally, its certificate comes from the CA', async (t) => {
  const l = await leader(t);
  const dir = join(await tempDir(t), 'pki');
  const { token } = l.tokens.create('host-1', 600_000);
  const ca = new X509Certificate(readFileSync(join(l.caDir, 'ca.crt')));
  const r = await joinLeader({ leaderUrl: l.url, token, name: 'host-1', dir, caSha256: ca.fingerprint256 });
  t.is(statSync(r.keyPath).mode & 0o777, 0o600);
  const cert = new X509Certificate(readFileSync(r.certPath));
  t.is(cert.subject.trim(), 'CN=host-1');
  t.is(cert.subjectAltName, 'DNS:host-1');
  t.true(cert.checkIssued(ca) && cert.verify(ca.publicKey));
  t.is(readFileSync(r.caPath, 'utf8'), readFileSync(join(l.caDir, 'ca.crt'), 'utf8'));
  t.false(JSON.stringify(l.bodies).includes('PRIVATE KEY'), 'the private key never left the host');
  t.deepEqual(Object.keys(l.bodies[0] as object).sort(), ['csr', 'name', 'token']);
  t.is(l.plugin.counters.issued, 1);
});

test('token refusals: reused, expired, for another name, and a leader\'s name; each counted by reason', async (t) => {
  const l = await leader(t);
  const base = await tempDir(t);
  const attempt = async (token: string, name: string, n: number): Promise<string> => {
    const err = await t.throwsAsync(joinLeader({ leaderUrl: l.url, token, name, dir: join(base, String(n)) }));
    t.true(isVmanageError(err, 'JOIN_REFUSED'), err.message);
    t.false(existsSync(join(base, String(n), `${name}.key`)), 'nothing written on a refusal');
    return err.message;
  };
  const once = l.tokens.create('host-1', 600_000).token;
  await joinLeader({ leaderUrl: l.url, token: once, name: 'host-1', dir: join(base, '0') });
  t.regex(await attempt(once, 'host-1', 1), /\(401\): the token was already used/);
  const late = l.tokens.create('host-2', 60_000).token;
  l.clock.advance(60_001);
  t.regex(await attempt(late, 'host-2', 2), /\(401\): the token expired at/);
  const other = l.tokens.create('host-3', 600_000).token;
  t.regex(await attempt(other, 'host-4', 3), /\(403\): the token was issued for another host name/);
  const lead = l.tokens.create('leader-a', 600_000).token;
  t.regex(await attempt(lead, 'leader-a', 4), /\(403\): leader-a is a leader's name/);
  t.regex(await attempt(`vmj_${'x'.repeat(43)}`, 'host-5', 5), /\(401\): unknown token/);
  t.deepEqual(l.plugin.counters.refused, { 'token-used': 1, 'token-expired': 1, 'token-wrong-name': 1, 'reserved-name': 1, 'token-unknown': 1 });
  t.is(l.plugin.counters.issued, 1);
  const registry = new Registry();
  registerJoinMetrics(registry, l.plugin.counters);
  const text = await registry.metrics();
  t.regex(text, /^vmanage_leader_joins_issued_total 1$/m);
  t.regex(text, /^vmanage_leader_joins_refused_total\{reason="token-used"\} 1$/m);
  t.regex(text, /^vmanage_leader_joins_refused_total\{reason="reserved-name"\} 1$/m);
});

test('a bad CSR is refused with 400 and does not use the token up', async (t) => {
  const l = await leader(t);
  const { token } = l.tokens.create('host-1', 600_000);
  const post = async (body: unknown): Promise<{ status: number; body: { reason?: string; message?: string } }> => {
    const res = await fetch(`${l.url}/api/join`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: await res.json() as { reason?: string; message?: string } };
  };
  const otherName = await post({ name: 'host-1', token, csr: await makeCsr(await newKey(), 'host-9') });
  t.is(otherName.status, 400);
  t.is(otherName.body.reason, 'csr');
  t.regex(otherName.body.message ?? '', /expected "CN=host-1"/);
  const junk = await post({ name: 'host-1', token, csr: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n' });
  t.is(junk.status, 400);
  t.true(l.tokens.check(token, 'host-1').ok, 'the token still works');
  await t.notThrowsAsync(joinLeader({ leaderUrl: l.url, token, name: 'host-1', dir: join(await tempDir(t), 'pki') }));
});

test('a CA certificate that does not match the pinned fingerprint is refused by the host', async (t) => {
  const l = await leader(t);
  const { token } = l.tokens.create('host-1', 600_000);
  const dir = join(await tempDir(t), 'pki');
  const err = await t.throwsAsync(joinLeader({ leaderUrl: l.url, token, name: 'host-1', dir, caSha256: 'AB'.repeat(32) }));
  t.true(isVmanageError(err, 'JOIN_REFUSED'));
  t.regex(err.message, /SHA-256 is .* expected ABAB/);
  t.false(existsSync(join(dir, 'host-1.key')));
});

test('hostile join bodies always get a 4xx answer, counted, and never a certificate', async (t) => {
  const l = await leader(t);
  const valid = l.tokens.create('host-1', 600_000).token;
  const field = fc.oneof(fc.string({ maxLength: 80 }), fc.constant(valid), fc.constant('host-1'), fc.integer(), fc.constant(null), fc.string({ minLength: 9000, maxLength: 9001 }));
  const body = fc.oneof(
    fc.record({ name: field, token: field, csr: field }, { requiredKeys: [] }),
    fc.record({ name: field, token: field, csr: field, extra: field }),
    fc.anything({ maxDepth: 2 }),
  );
  let sent = 0;
  await fc.assert(fc.asyncProperty(fc.oneof(body.map((b) => JSON.stringify(b) ?? 'null'), fc.string({ maxLength: 200 })), async (raw) => {
    sent++;
    const res = await fetch(`${l.url}/api/join`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw });
    const reply = await res.json() as { reason?: string };
    return res.status >= 400 && res.status < 500 && typeof reply.reason === 'string';
  }), { numRuns: 150 });
  const refused = Object.values(l.plugin.counters.refused).reduce((a, b) => a + (b ?? 0), 0);
  t.is(refused, sent);
  t.is(l.plugin.counters.issued, 0);
  t.true(l.tokens.check(valid, 'host-1').ok);
});

test('a host joins over HTTPS, checking the leader\'s certificate with the cluster CA', async (t) => {
  const caDir = join(await tempDir(t), 'ca');
  await initCa(caDir);
  const leaderCert = await issueCert(caDir, { name: 'leader-a', san: ['leader-a', '127.0.0.1'] });
  const tokens = new JoinTokens(join(caDir, 'tokens.json'), new ManualClock(Date.now()));
  const app = Fastify({ https: { key: readFileSync(leaderCert.keyPath), cert: readFileSync(leaderCert.certPath) } });
  await app.register(joinPlugin({ caDir, tokens, log: pino({ level: 'silent' }) }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const url = `https://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const caPem = readFileSync(join(caDir, 'ca.crt'), 'utf8');
  const dir = join(await tempDir(t), 'pki');
  const untrusted = await t.throwsAsync(joinLeader({ leaderUrl: url, token: tokens.create('h1', 60_000).token, name: 'h1', dir }));
  t.true(isVmanageError(untrusted, 'UNAVAILABLE'), 'without the CA the leader\'s certificate is not trusted');
  const r = await joinLeader({ leaderUrl: url, token: tokens.create('h1', 60_000).token, name: 'h1', dir, httpsCa: caPem });
  t.is(new X509Certificate(readFileSync(r.certPath)).subject.trim(), 'CN=h1');
});

test('join tokens behave like a model: each works once, for its name, before its expiry (property)', async (t) => {
  const dir = await tempDir(t);
  let n = 0;
  await fc.assert(fc.asyncProperty(
    fc.array(fc.oneof(
      fc.record({ op: fc.constant('create' as const), name: fc.constantFrom('h1', 'h2', 'h3'), ttl: fc.integer({ min: 1000, max: 5000 }) }),
      fc.record({ op: fc.constant('use' as const), which: fc.nat(20), name: fc.constantFrom('h1', 'h2', 'h3') }),
      fc.record({ op: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 3000 }) }),
    ), { maxLength: 25 }),
    async (ops) => {
      const clock = new ManualClock(1_000_000);
      const tokens = new JoinTokens(join(dir, `t${n++}.json`), clock);
      const model: { token: string; name: string; expiresAt: number; used: boolean }[] = [];
      for (const o of ops) {
        if (o.op === 'create') {
          const c = tokens.create(o.name, o.ttl);
          model.push({ token: c.token, name: o.name, expiresAt: c.expiresAt, used: false });
        } else if (o.op === 'wait') clock.advance(o.ms);
        else {
          const m = model[o.which % Math.max(1, model.length)];
          if (!m) continue;
          const expected = m.used ? 'used' : clock.now() >= m.expiresAt ? 'expired' : m.name !== o.name ? 'wrong-name' : 'ok';
          const got = tokens.consume(m.token, o.name);
          if ((got.ok ? 'ok' : got.reason) !== expected) return false;
          if (got.ok) m.used = true;
        }
      }
      return true;
    },
  ), { numRuns: 60 });
  t.pass();
});

test('with a group, the key is 0640 and its directory 0750, both root:group, so the unprivileged host daemon can read it', async (t) => {
  const gid = groupId('daemon');
  if (gid === undefined || process.getuid?.() !== 0) return t.fail('needs root and the Debian "daemon" group (CI runs as root)');
  const l = await leader(t);
  const dir = join(await tempDir(t), 'pki');
  const { token } = l.tokens.create('host-1', 600_000);
  const r = await joinLeader({ leaderUrl: l.url, token, name: 'host-1', dir, gid });
  t.is(r.keyMode, 0o640);
  const key = statSync(r.keyPath);
  t.deepEqual([key.mode & 0o777, key.uid, key.gid], [0o640, 0, gid]);
  const d = statSync(dir);
  t.deepEqual([d.mode & 0o777, d.uid, d.gid], [0o750, 0, gid]);
});

test('group names are looked up in /etc/group only; a missing group or a broken line is no group', async (t) => {
  const file = join(await tempDir(t), 'group');
  writeFileSync(file, 'root:x:0:\nvmanage:x:998:\nbroken\nodd:x:abc:\n');
  t.is(groupId('vmanage', file), 998);
  t.is(groupId('root', file), 0);
  t.is(groupId('odd', file), undefined);
  t.is(groupId('broken', file), undefined);
  t.is(groupId('nobody-here', file), undefined);
  t.is(groupId('vmanage', join(file, 'missing')), undefined);
});
