import test from 'ava';
import { tlsConnector, tlsListener, type Connection, type TlsListener } from '../../src/mchannel/index.js';
import { isVmanageError } from '../../src/domain/errors.js';
import { tempDir } from '../support/proc.js';
import { makeCa, makeLeaf, type Pem } from './certs.js';
import { until } from './helpers.js';

interface Pki { ca: Pem; rogueCa: Pem; leader: Pem; other: Pem; host: Pem; rogueHost: Pem; rogueLeader: Pem }
let pki: Pki;

test.before(async () => {
  const dir = await tempDir(undefined, 'vmanage-pki-');
  pki = {
    ca: makeCa(dir, 'cluster-ca'),
    rogueCa: makeCa(dir, 'rogue-ca'),
    leader: makeLeaf(dir, 'cluster-ca', 'leader', 'leader'),
    other: makeLeaf(dir, 'cluster-ca', 'not-the-leader', 'not-the-leader'),
    host: makeLeaf(dir, 'cluster-ca', 'host-1'),
    rogueHost: makeLeaf(dir, 'rogue-ca', 'host-1'),
    rogueLeader: makeLeaf(dir, 'rogue-ca', 'leader', 'leader'),
  };
});

async function listen(t: { teardown(fn: () => unknown): void }, server: Pem, allowClient?: (cn: string) => boolean): Promise<{ l: TlsListener; accepted: Connection[] }> {
  const l = await tlsListener({ host: '127.0.0.1', port: 0, ca: pki.ca.cert, ...server, ...(allowClient ? { allowClient } : {}) });
  const accepted: Connection[] = [];
  l.onConnection((c) => {
    accepted.push(c);
    c.stream.write('{"t":"hb","a":0}\n');
  });
  t.teardown(() => { for (const c of accepted) c.stream.destroy(); return l.close(); });
  return { l, accepted };
}

/** Connects and reports whether the server's first line arrived (true) or the connection died. */
async function talk(port: number, client: Partial<Pem>, serverName = 'leader', ca = pki.ca.cert): Promise<boolean> {
  const conn = await tlsConnector({ host: '127.0.0.1', port, serverName, ca, cert: client.cert ?? '', key: client.key ?? '' }).connect();
  return await new Promise<boolean>((resolve) => {
    conn.stream.once('data', () => { conn.stream.destroy(); resolve(true); });
    conn.stream.once('error', () => resolve(false));
    conn.stream.once('close', () => resolve(false));
  });
}

test('a client with a certificate from the cluster CA is accepted and identified by its CN', async (t) => {
  const { l, accepted } = await listen(t, pki.leader);
  t.true(await talk(l.port, pki.host));
  t.is(accepted[0]?.peer.id, 'host-1');
  t.is(accepted[0]?.peer.transport, 'tls');
});

test('a client whose certificate is not signed by the cluster CA is refused', async (t) => {
  const { l, accepted } = await listen(t, pki.leader);
  const ok = await talk(l.port, pki.rogueHost).catch(() => false);
  t.false(ok);
  t.is(accepted.length, 0);
  await until('refusal counted', () => l.refused.handshake >= 1);
  t.pass();
});

test('a client without a certificate is refused', async (t) => {
  const { l, accepted } = await listen(t, pki.leader);
  const ok = await tlsConnector({ host: '127.0.0.1', port: l.port, serverName: 'leader', ca: pki.ca.cert, cert: '', key: '' })
    .connect().then(() => true, () => false);
  if (ok) await until('refusal counted', () => l.refused.handshake >= 1);
  t.is(accepted.length, 0);
});

const serverRefusals: [string, () => Pem, string, () => string][] = [
  ['a server whose certificate names another host is refused by the client', () => pki.other, 'leader', () => pki.ca.cert],
  ['a server whose certificate is not signed by the cluster CA is refused by the client', () => pki.rogueLeader, 'leader', () => pki.ca.cert],
];
for (const [name, server, expected, ca] of serverRefusals) {
  test(name, async (t) => {
    const l = await tlsListener({ host: '127.0.0.1', port: 0, ca: server() === pki.rogueLeader ? pki.rogueCa.cert : pki.ca.cert, ...server() });
    t.teardown(() => l.close());
    const err = await t.throwsAsync(tlsConnector({ host: '127.0.0.1', port: l.port, serverName: expected, ca: ca(), ...pki.host }).connect());
    t.true(isVmanageError(err, 'UNAVAILABLE'));
    t.regex(err?.message ?? '', /TLS connection to 127\.0\.0\.1/);
  });
}

test('a listener that restricts client names refuses other CNs from the right CA', async (t) => {
  const { l, accepted } = await listen(t, pki.leader, (cn) => cn === 'host-2');
  t.false(await talk(l.port, pki.host));
  t.is(accepted.length, 0);
  t.is(l.refused.name, 1);
});
