import test from 'ava';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkCsr, initCa, issueCert, makeCsr, newKey } from '../../src/adapters/pki/ca.js';
import { checkName, parseSans } from '../../src/adapters/pki/names.js';
import { ManualClock } from '../../src/domain/clock.js';
import { isVmanageError } from '../../src/domain/errors.js';
import { JoinTokens } from '../../src/adapters/pki/tokens.js';
import { tempDir } from '../support/proc.js';

test('ca init makes a CA certificate and a key only its owner can read, and refuses to replace them', async (t) => {
  const dir = join(await tempDir(t), 'pki');
  const r = await initCa(dir, { name: 'cluster-ca' });
  t.is(statSync(r.keyPath).mode & 0o777, 0o600);
  t.is(statSync(dir).mode & 0o777, 0o700);
  const ca = new X509Certificate(readFileSync(r.certPath));
  t.true(ca.ca);
  t.is(ca.subject.trim(), 'CN=cluster-ca');
  const again = await t.throwsAsync(initCa(dir));
  t.true(isVmanageError(again, 'PKI_FAILED'));
  t.regex(again.message, /already holds a CA/);
});

test('ca issue makes a certificate for CN = name with its SANs, for server and client use, signed by the CA', async (t) => {
  const dir = await tempDir(t);
  await initCa(dir);
  const r = await issueCert(dir, { name: 'leader-a', san: ['leader-a', 'leader.example', '127.0.0.1'] });
  t.is(statSync(r.keyPath).mode & 0o777, 0o600);
  const cert = new X509Certificate(readFileSync(r.certPath));
  const ca = new X509Certificate(readFileSync(join(dir, 'ca.crt')));
  t.is(cert.subject.trim(), 'CN=leader-a');
  t.is(cert.subjectAltName, 'DNS:leader-a, DNS:leader.example, IP Address:127.0.0.1');
  t.true(cert.checkIssued(ca) && cert.verify(ca.publicKey));
  t.false(cert.ca);
  const text = execFileSync('openssl', ['x509', '-noout', '-ext', 'extendedKeyUsage', '-in', r.certPath], { encoding: 'utf8' });
  t.regex(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
  t.notThrows(() => execFileSync('openssl', ['verify', '-CAfile', join(dir, 'ca.crt'), r.certPath], { stdio: 'pipe' }));
  const twice = await t.throwsAsync(issueCert(dir, { name: 'leader-a' }));
  t.regex(twice.message, /exists; refusing/);
});

for (const [name, ok] of [
  ['host-1', true], ['h.example.org', true], ['A_1', true], ['', false], ['-lead', false], ['a b', false],
  ['x/CN=leader', false], ['host,CN=leader', false], ['a'.repeat(65), false], ['*.example', false], ['h\n', false],
] as const) {
  test(`the certificate name ${JSON.stringify(name).slice(0, 30)} is ${ok ? 'accepted' : 'refused'}`, (t) => {
    if (ok) t.is(checkName(name), name);
    else t.true(isVmanageError(t.throws(() => checkName(name)), 'INVALID_INPUT'));
  });
}

test('SANs are told apart as IP addresses or DNS names, and anything else is refused', (t) => {
  t.deepEqual(parseSans(['10.0.0.5', 'DNS:h1.example', 'IP:::1', 'leader']), [
    { kind: 'IP', value: '10.0.0.5' }, { kind: 'DNS', value: 'h1.example' }, { kind: 'IP', value: '::1' }, { kind: 'DNS', value: 'leader' },
  ]);
  for (const bad of ['a,b', 'x y', 'email:a@b', '', '*.x']) t.true(isVmanageError(t.throws(() => parseSans([bad])), 'INVALID_INPUT'), bad);
});

/** The CSR with its subject changed from host-1 to host-2 after signing (the signature no longer fits). */
function forged(csr: string): string {
  const der = Buffer.from(csr.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
  const at = der.indexOf('host-1');
  der.write('host-2', at);
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE REQUEST-----\n${b64}\n-----END CERTIFICATE REQUEST-----\n`;
}

test('a CSR is refused when it is not PEM, not for the expected name, or carries a weak key', async (t) => {
  const dir = await tempDir(t);
  const key = await newKey();
  const good = await makeCsr(key, 'host-1');
  await t.notThrowsAsync(checkCsr(good, 'host-1'));
  const refusals: [string, string, RegExp][] = [
    ['garbage', 'host-1', /one PEM block/],
    [good, 'host-2', /subject is "CN=host-1", expected "CN=host-2"/],
    [forged(good), 'host-2', /openssl cannot verify it/],
    [`${good}${good}`, 'host-1', /one PEM block/],
    ['x'.repeat(9000), 'host-1', /at most 8192 bytes/],
  ];
  execFileSync('openssl', ['req', '-newkey', 'rsa:1024', '-nodes', '-keyout', join(dir, 'weak.key'), '-out', join(dir, 'weak.csr'), '-subj', '/CN=host-1'], { stdio: 'pipe' });
  refusals.push([readFileSync(join(dir, 'weak.csr'), 'utf8'), 'host-1', /rsaEncryption 1024 bit/]);
  writeFileSync(join(dir, 'k.pem'), key);
  execFileSync('openssl', ['req', '-new', '-key', join(dir, 'k.pem'), '-out', join(dir, 'two.csr'), '-subj', '/O=leaders/CN=host-1'], { stdio: 'pipe' });
  refusals.push([readFileSync(join(dir, 'two.csr'), 'utf8'), 'host-1', /expected "CN=host-1"/]);
  for (const [csr, name, why] of refusals) {
    const err = await t.throwsAsync(checkCsr(csr, name), undefined, String(why));
    t.true(isVmanageError(err, 'JOIN_REFUSED'));
    t.regex(err.message, why);
  }
});

test('a join token works once, only for its name, only before it expires; the file holds only its hash', async (t) => {
  const dir = await tempDir(t);
  const clock = new ManualClock(1_000_000);
  const tokens = new JoinTokens(join(dir, 'tokens.json'), clock);
  const a = tokens.create('host-1', 60_000);
  const b = tokens.create('host-2', 60_000);
  t.regex(a.token, /^vmj_[A-Za-z0-9_-]{43}$/);
  const file = readFileSync(join(dir, 'tokens.json'), 'utf8');
  t.false(file.includes(a.token.slice(4)), 'the token itself is not stored');
  t.is(statSync(join(dir, 'tokens.json')).mode & 0o777, 0o600);
  const reason = (r: ReturnType<JoinTokens['check']>): string => (r.ok ? 'ok' : r.reason);
  t.is(reason(tokens.check('nonsense', 'host-1')), 'malformed');
  t.is(reason(tokens.check(`vmj_${'A'.repeat(43)}`, 'host-1')), 'unknown');
  t.is(reason(tokens.check(a.token, 'host-2')), 'wrong-name');
  t.is(reason(tokens.check(a.token, 'host-1')), 'ok');
  t.is(reason(tokens.consume(a.token, 'host-1')), 'ok');
  t.is(reason(tokens.consume(a.token, 'host-1')), 'used');
  clock.advance(60_000);
  t.is(reason(tokens.consume(b.token, 'host-2')), 'expired');
  t.deepEqual(tokens.list().map((e) => [e.name, e.usedAt !== undefined]), [['host-1', true], ['host-2', false]]);
  clock.advance(8 * 86_400_000);
  tokens.create('host-3', 60_000);
  t.deepEqual(tokens.list().map((e) => e.name), ['host-3'], 'used and expired tokens are dropped after a week');
  t.true(isVmanageError(t.throws(() => tokens.create('host-4', 10)), 'INVALID_INPUT'));
});

test('a token file that is not ours is reported with its path, not trusted', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'tokens.json');
  execFileSync('sh', ['-c', `echo '{"version":1,"tokens":[{"hash":"x"}]}' > ${path}`]);
  const err = t.throws(() => new JoinTokens(path, new ManualClock(0)).check(`vmj_${'A'.repeat(43)}`, 'h'));
  t.true(isVmanageError(err, 'PKI_FAILED'));
  t.true(err.message.includes(path));
});
