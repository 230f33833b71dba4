import test from 'ava';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Channel, acceptAnything, chardevConnector, type Incoming } from '../../src/mchannel/index.js';
import { tempDir } from '../support/proc.js';
import { until } from './helpers.js';

// A FIFO pair stands in for the virtio-serial port: the guest reads to-guest and writes to-host.
// Like QEMU, the pipe holds what the guest writes while no host reads (up to the pipe's 64 KiB;
// past that the guest's writes fail with EAGAIN and are retried with backoff).
async function fifos(t: Parameters<typeof tempDir>[0]): Promise<{ toGuest: string; toHost: string }> {
  const dir = await tempDir(t);
  const toGuest = join(dir, 'to-guest');
  const toHost = join(dir, 'to-host');
  execFileSync('mkfifo', [toGuest, toHost]);
  return { toGuest, toHost };
}

function collect(ch: Channel): Incoming[] {
  const out: Incoming[] = [];
  void (async () => { for await (const m of ch) out.push(m); })();
  return out;
}

const opts = { validator: acceptAnything, heartbeatMs: 60_000, deadAfterMs: 120_000 };

test('a guest on a character device talks to a host that attaches later', async (t) => {
  const { toGuest, toHost } = await fifos(t);
  const guest = Channel.client(chardevConnector(toGuest, { writePath: toHost }), { ...opts, role: 'agent' });
  t.teardown(() => guest.close());
  const pending = guest.send('agent.hello', { version: '1' }); // queued until a host answers
  const host = Channel.attached({ ...opts, role: 'host' });
  t.teardown(() => host.close());
  host.attach(await chardevConnector(toHost, { writePath: toGuest, label: 'vm-1' }).connect(), { initiate: true });
  await guest.whenConnected();
  await pending;
  const got = collect(host);
  await until('hello delivered', () => got.length === 1);
  t.deepEqual(got[0]?.body, { version: '1' });
  t.is(host.sessionId, guest.sessionId);
  const atGuest = collect(guest);
  await host.send('host.config', { report_interval_s: 5 });
  await until('config delivered', () => atGuest.length === 1);
  t.is(host.peer?.id, 'vm-1');
});

test('writes that stall while no host reads are retried and delivered in order to the next host', async (t) => {
  const { toGuest, toHost } = await fifos(t);
  const guest = Channel.client(chardevConnector(toGuest, { writePath: toHost, pollMaxMs: 20 }), { ...opts, role: 'agent', replay: { maxCount: 5000, maxBytes: 4 << 20 } });
  t.teardown(() => guest.close());
  const hostA = Channel.attached({ ...opts, role: 'host' });
  const connA = await chardevConnector(toHost, { writePath: toGuest }).connect();
  hostA.attach(connA, { initiate: true });
  await guest.whenConnected();
  await hostA.whenConnected();
  const state = hostA.detach(); // the host goes away (migration); nobody reads the pipe now
  await until('the old host let go of the pipe', () => connA.stream.closed);

  const pad = 'p'.repeat(200);
  for (let i = 0; i < 1000; i++) await guest.send('sla.report', { i, pad }); // ~250 KB: far more than the pipe holds
  const hostB = Channel.attached({ ...opts, role: 'host', state });
  t.teardown(() => hostB.close());
  const got = collect(hostB);
  hostB.attach(await chardevConnector(toHost, { writePath: toGuest }).connect(), { initiate: true });
  await until('all delivered', () => got.length === 1000, 20_000);
  t.deepEqual(got.map((m) => (m.body as { i: number }).i), [...Array(1000).keys()]);
  // Lines the pipe held were read before the guest answered the new host's hello: stale, and
  // all of them before the first fresh one (the guest's answer to the old host's hello, also
  // held, is recognised by its nonce and does not count as the new handshake).
  const stale = got.filter((m) => m.stale).length;
  t.true(stale > 0, 'lines the pipe held are flagged stale');
  t.true(got.slice(0, stale).every((m) => m.stale), 'stale lines come before every fresh one');
  t.is(hostB.counters.gaps, 0);
});
