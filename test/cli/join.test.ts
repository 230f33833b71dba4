// `vmanagectl join` against the leader's API server with the join plugin registered: a one-time
// token buys a host certificate; the same token again is refused.
import test from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../../src/adapters/clock.js';
import { initCa } from '../../src/adapters/pki/ca.js';
import { JoinTokens, TOKENS_FILE } from '../../src/adapters/pki/tokens.js';
import { joinPlugin } from '../../src/daemons/leader/join.js';
import { tempDir } from '../support/proc.js';
import { quiet, startCluster } from '../leader-http/support.js';
import { ctl, ctlBundle } from './support.js';

test.before(async () => { await ctlBundle(); });

test('a host joins through the leader\'s API with a one-time token, once', async (t) => {
  const dir = await tempDir(t, 'vmanage-http-join-');
  const caDir = join(dir, 'ca');
  await initCa(caDir);
  const tokens = new JoinTokens(join(caDir, TOKENS_FILE), systemClock);
  const { token } = tokens.create('h9', 60_000);
  const plugin = joinPlugin({ caDir, tokens, log: quiet, reservedNames: ['cl1'] });
  const c = await startCluster(t, { http: { join: plugin } });
  const hostDir = join(dir, 'h9');
  const r = await ctl(['join', '--leader', c.url, '--token', token, '--name', 'h9', '--dir', hostDir]);
  t.is(r.code, 0, r.err);
  t.true(existsSync(join(hostDir, 'h9.crt')) && existsSync(join(hostDir, 'h9.key')));
  t.is(plugin.counters.issued, 1);
  const again = await ctl(['join', '--leader', c.url, '--token', token, '--name', 'h9', '--dir', join(dir, 'h9-again')]);
  t.not(again.code, 0);
  t.is(plugin.counters.refused['token-used'], 1);
});
