// vmanagectl place with a domain XML (the bundled CLI as a process): usage errors exit 2 before
// any request, the size comes from the XML, and a dry run with --create says where the VM would
// be created. (Creation on a real host daemon: test/leader-daemon/vm-create.test.ts.)
import test from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PlaceAnswer } from '../../src/daemons/leader/api.js';
import { startCluster } from '../leader-http/support.js';
import { tempDir, waitFor } from '../support/proc.js';
import { ctl, ctlBundle, json } from './support.js';

test.before(async () => { await ctlBundle(); });

const usage: [string, string[], RegExp][] = [
  ['--create without --xml', ['place', '--create', '--vcpus', '1', '--memory', '64'], /place --create needs --xml FILE/],
  ['no size and no XML', ['place', '--vcpus', '1'], /place needs --vcpus and --memory \(or --xml FILE\)/],
  ['an XML file that is not there', ['place', '--create', '--xml', '/nonexistent/vm.xml'], /--xml \/nonexistent\/vm\.xml: ENOENT/],
];

for (const [what, args, message] of usage) {
  test(`place with ${what} is a usage error (exit 2)`, async (t) => {
    const r = await ctl([...args, '--leader', 'http://127.0.0.1:9']);
    t.is(r.code, 2, r.out + r.err);
    t.regex(r.err, message);
  });
}

test('place --create --dry-run reads the size from the XML and says where the VM would be created', async (t) => {
  const c = await startCluster(t, { hosts: { h1: [] } });
  await waitFor('h1 with a budget', () => c.leader.budgets().hosts.some((h) => h.host === 'h1' && h.floorWatts > 0));
  const file = join(await tempDir(t, 'vmanagectl-xml-'), 'vm.xml');
  await writeFile(file, "<domain type='kvm'><name>app1</name><memory unit='GiB'>1</memory><vcpu>2</vcpu></domain>");
  const r = await ctl(['place', '--create', '--xml', file, '--dry-run', '--json', '--leader', c.url]);
  t.is(r.code, 0, r.out + r.err);
  const a = json<PlaceAnswer>(r);
  t.like(a, { placed: true, host: 'h1', dryRun: true, decision: { inputs: { vcpus: 2, memoryMiB: 1024, name: 'app1', create: true } } });
  t.regex(a.reason, /^would create app1 on host h1/);
  t.regex((await ctl(['place', '--create', '--xml', file, '--dry-run', '--leader', c.url])).out, /^\(dry run\) placed on h1: would create app1/);
});
