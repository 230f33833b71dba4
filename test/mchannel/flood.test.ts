import test from 'ava';
import { join } from 'node:path';
import { Channel, acceptAnything, unixListener, type Connection } from '../../src/mchannel/index.js';
import { startProcess, tempDir } from '../support/proc.js';
import { until } from './helpers.js';

const floodScript = join(import.meta.dirname, 'fixtures', 'flood.ts');

async function floodedChannel(t: Parameters<typeof tempDir>[0], mode: string, opts: Partial<Parameters<typeof Channel.attached>[0]> = {}): Promise<Channel> {
  const dir = await tempDir(t);
  const sock = join(dir, 'host.sock');
  const listener = await unixListener(sock, { label: 'vm-flood' });
  t?.teardown(() => listener.close());
  const ch = Channel.attached({ role: 'host', validator: acceptAnything, closeFlushMs: 10, ...opts });
  t?.teardown(() => ch.close());
  const attached = new Promise<void>((resolve) => listener.onConnection((c: Connection) => { ch.attach(c, { initiate: false }); resolve(); }));
  await startProcess(t, process.execPath, ['--import', 'tsx', floodScript, sock, mode, '30'], { ready: /flooding/ });
  await attached;
  return ch;
}

function heapMb(): number {
  return process.memoryUsage().heapUsed / 2 ** 20;
}

test('a process flooding valid messages that nobody reads is held back and our heap stays bounded', async (t) => {
  const ch = await floodedChannel(t, 'valid', { inboxMax: 512 });
  await until('the channel fills', () => ch.counters.delivered >= 512, 20_000);
  const before = heapMb();
  const deliveredAtFull = ch.counters.delivered;
  await new Promise((r) => setTimeout(r, 1000)); // the flood goes on; we read nothing
  t.true(ch.counters.delivered - deliveredAtFull < 600, `delivered ${ch.counters.delivered - deliveredAtFull} more while nobody read`);
  t.true(heapMb() - before < 32, `heap grew ${(heapMb() - before).toFixed(1)} MiB`);
  // Reading lets the flood through again, in order.
  let expect = 1;
  for await (const m of ch) {
    if ((m.body as { n: number }).n !== expect) break;
    if (++expect > 3000) break;
  }
  t.is(expect, 3001);
});

test('a process flooding garbage mixed with valid frames is counted, stays connected and our heap stays bounded', async (t) => {
  const ch = await floodedChannel(t, 'garbage');
  let got = 0;
  const reading = (async () => { for await (const _m of ch) got++; })();
  await until('some valid frames', () => got > 1000, 20_000);
  const before = heapMb();
  await new Promise((r) => setTimeout(r, 1000));
  t.true(heapMb() - before < 32, `heap grew ${(heapMb() - before).toFixed(1)} MiB`);
  const c = ch.counters;
  t.true(c.invalidJson > 0 && c.tooLong > 0 && c.invalidUtf8 > 0 && c.tooDeep > 0 && c.badEnvelope > 0, JSON.stringify(c));
  t.is(c.budgetExhausted, 0);
  t.is(ch.state, 'connected');
  void reading;
});
