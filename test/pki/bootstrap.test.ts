// The whole certificate bootstrap of docs/certificates.md with the real programs: vmanagectl makes
// the CA, the leader's certificate and a join token; a vmanage-leader process serves hosts over
// mutual TLS and POST /api/join; vmanagectl join gets the host's certificate from it; the
// vmanage-mvm host daemon then registers with the leader over mTLS with that certificate.
import test from 'ava';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort, startProcess, tempDir, waitFor } from '../support/proc.js';
import { lines, startHost } from '../ha/support.js';

const root = new URL('../..', import.meta.url).pathname;

async function vmanagectl(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return await new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(root, 'src/cli/vmanagectl.ts'), ...args], { cwd: root, timeout: 60_000 }, (error, out, err) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out, err });
    });
  });
}

test('ca init, ca issue, ca token, a leader serving join, vmanagectl join, then the host daemon registers over mTLS', async (t) => {
  const base = await tempDir(t, 'vmanage-bootstrap-');
  const pki = join(base, 'leader-pki');
  const hostPki = join(base, 'host-pki');
  const run = async (...args: string[]): Promise<string> => {
    const r = await vmanagectl(...args);
    t.is(r.code, 0, `vmanagectl ${args.join(' ')}: ${r.err}`);
    return r.out;
  };
  await run('ca', 'init', '--dir', pki, '--name', 'cluster-ca');
  const [, tokenOut] = await Promise.all([
    run('ca', 'issue', '--dir', pki, '--name', 'leader-a', '--san', 'leader-a,127.0.0.1'),
    run('ca', 'token', '--dir', pki, '--name', 'h1', '--ttl', '15m', '--json'),
  ]);
  const { token } = JSON.parse(tokenOut) as { token: string };

  const port = await freePort();
  const file = join(base, 'leader.yaml');
  writeFileSync(file, stringify({
    id: 'leader-a',
    listen: { tls: { host: '127.0.0.1', port, ca: join(pki, 'ca.crt'), cert: join(pki, 'leader-a.crt'), key: join(pki, 'leader-a.key') } },
    store: { path: join(base, 'leader.db') }, http: { host: '127.0.0.1', port: 0 }, join: { caDir: pki },
    cluster: { budgetWatts: 300 }, periods: { tickMs: 200, splitMs: 300, auditMs: 600_000 }, log: { level: 'info' },
  }));
  const leader = await startProcess(t, process.execPath, ['--import', 'tsx', join(root, 'src/daemons/leader/main.ts'), '--config', file], {
    cwd: root, ready: /vmanage-leader ready/, readyTimeoutMs: 60_000,
  });
  const url = String(lines(leader, 'leader.ready')[0]?.['http']);
  t.regex(url, /^http:\/\/127\.0\.0\.1:\d+/);

  const pin = new X509Certificate(readFileSync(join(pki, 'ca.crt'))).fingerprint256;
  // A group that does not exist is refused before the leader is asked: the token stays usable.
  const noGroup = await vmanagectl('join', '--leader', url, '--token', token, '--name', 'h1', '--dir', hostPki, '--group', 'no-such-group');
  t.not(noGroup.code, 0);
  t.regex(noGroup.err, /--group: no group named "no-such-group" in \/etc\/group/);
  // The key readable by the group the host daemon runs as (here Debian's "daemon"; CI runs as root).
  const joined = await run('join', '--leader', url, '--token', token, '--name', 'h1', '--dir', hostPki, '--ca-sha256', pin, '--group', 'daemon');
  t.regex(joined, /h1\.key \(mode 0640, group daemon, made here\)/);
  t.is(statSync(join(hostPki, 'h1.key')).mode & 0o777, 0o640);

  const host = await startHost(t, [{
    tls: { host: '127.0.0.1', port, serverName: 'leader-a', ca: join(hostPki, 'ca.crt'), cert: join(hostPki, 'h1.crt'), key: join(hostPki, 'h1.key') },
  }]);
  await waitFor('h1 registered over mTLS', () => lines(leader, 'leader.host-registered').some((l) => l['host'] === 'h1'), 60_000);
  await waitFor('h1 under the leader\'s budget', async () => (await host.status()).power?.budgetSource === 'leader', 30_000);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  t.regex(metrics, /^vmanage_leader_joins_issued_total 1$/m);
});
