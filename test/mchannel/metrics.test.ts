import test from 'ava';
import { Registry } from 'prom-client';
import { newChannelCounters, registerChannelMetrics } from '../../src/mchannel/index.js';

test('channel counters are exposed to Prometheus with a channel label, read at scrape time', async (t) => {
  const register = new Registry();
  const a = newChannelCounters();
  const b = newChannelCounters();
  const names = registerChannelMetrics(register, () => [{ channel: 'vm-a', counters: a }, { channel: 'vm-b', counters: b }]);
  t.true(names.includes('vmanage_mchannel_invalid_utf8_total'));
  a.invalidUtf8 = 3;
  b.gaps = 1;
  b.lostIncoming = 7;
  const text = await register.metrics();
  t.regex(text, /vmanage_mchannel_invalid_utf8_total\{channel="vm-a"\} 3/);
  t.regex(text, /vmanage_mchannel_gaps_total\{channel="vm-b"\} 1/);
  t.regex(text, /vmanage_mchannel_lost_incoming_total\{channel="vm-b"\} 7/);
  a.invalidUtf8 = 5;
  t.regex(await register.metrics(), /vmanage_mchannel_invalid_utf8_total\{channel="vm-a"\} 5/);
});
