// The real hook script (hooks/qemu.d/vmanage and hooks/libxl.d/vmanage, a sh wrapper exec'ing
// node on the bundled hook program) run as a child process against the real daemon-side listener.
import test from 'ava';
import fc from 'fast-check';
import { writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { startHookListener, type AdmissionDecision, type HookEvent, type HookListenerOptions } from '../../src/adapters/hook/listener.js';
import { libxlHookScript } from '../../bench/lib/hook-bundle.js';
import { tempDir, type Teardown } from '../support/proc.js';
import { VM_UUID, domainXml, runHookScript } from './support.js';

// The bound is what matters (no hang), not speed: slack covers sh + node start-up on a loaded
// 2-core machine, where the hook's own clock (process start) starts late. Speed: npm run bench -- hook.
const SLACK_MS = 1_500;

async function listener(t: Teardown, admit?: HookListenerOptions['admit']): Promise<{ path: string; events: HookEvent[]; decisions: AdmissionDecision[] }> {
  const dir = await tempDir(t, 'vmanage-hook-');
  const path = join(dir, 'hook.sock');
  const events: HookEvent[] = [];
  const decisions: AdmissionDecision[] = [];
  const l = await startHookListener({ path, onEvent: (e, d) => { events.push(e); decisions.push(d); }, ...(admit ? { admit } : {}) });
  t.teardown(() => l.close());
  return { path, events, decisions };
}

test('with the daemon up, each libvirt hook call reaches it as a typed event and the hook exits 0', async (t) => {
  const d = await listener(t);
  const calls = [['prepare', 'begin'], ['start', 'begin'], ['started', 'begin'], ['stopped', 'end'], ['release', 'end']] as const;
  for (const [op, sub] of calls) {
    const r = await runHookScript(t, ['vm1', op, sub, '-'], domainXml(), { env: { VMANAGE_HOOK_SOCKET: d.path } });
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout, '');
  }
  t.deepEqual(d.events.map((e) => [e.operation, e.subOperation]), calls.map(([o, s]) => [o, s]));
  t.like(d.events[0], { object: 'vm1', extra: '-', driver: 'qemu', vm: { uuid: VM_UUID, name: 'vm1' } });
});

test('the libxl hook reports driver libxl', async (t) => {
  const d = await listener(t);
  const r = await runHookScript(t, ['vm1', 'started', 'begin', '-'], domainXml(), { script: libxlHookScript, env: { VMANAGE_HOOK_SOCKET: d.path } });
  t.is(r.code, 0, r.stderr);
  t.is(d.events[0]?.driver, 'libxl');
});

test('with the daemon down the hook exits 0 at once and says so on stderr', async (t) => {
  const dir = await tempDir(t);
  const r = await runHookScript(t, ['vm1', 'prepare', 'begin', '-'], domainXml(), { env: { VMANAGE_HOOK_SOCKET: join(dir, 'nobody.sock') } });
  t.is(r.code, 0);
  t.regex(r.stderr, /unreachable .*continuing/);
});

test('admission control configured to refuse: daemon down refuses prepare but not other operations', async (t) => {
  const dir = await tempDir(t);
  const conf = join(dir, 'hook.conf');
  await writeFile(conf, `# test\nsocket = ${join(dir, 'nobody.sock')}\nrefuse_prepare_when_down = true\ndeny_exit_code = 9\n`);
  const prepare = await runHookScript(t, ['vm1', 'prepare', 'begin', '-'], domainXml(), { env: { VMANAGE_HOOK_CONF: conf } });
  t.is(prepare.code, 9);
  t.regex(prepare.stderr, /refusing to start VM vm1/);
  const started = await runHookScript(t, ['vm1', 'started', 'begin', '-'], domainXml(), { env: { VMANAGE_HOOK_CONF: conf } });
  t.is(started.code, 0);
});

test('the daemon denying prepare makes the hook fail with the reason on stderr', async (t) => {
  const d = await listener(t, (e) => (e.operation === 'prepare' ? { allow: false, reason: 'host power budget exhausted' } : { allow: true }));
  const r = await runHookScript(t, ['vm1', 'prepare', 'begin', '-'], domainXml(), { env: { VMANAGE_HOOK_SOCKET: d.path } });
  t.is(r.code, 1);
  t.regex(r.stderr, /refused prepare of VM vm1 .*host power budget exhausted/);
  t.deepEqual(d.decisions, [{ allow: false, reason: 'host power budget exhausted' }]);
});

async function silentDaemon(t: Teardown): Promise<string> {
  const dir = await tempDir(t);
  const path = join(dir, 'slow.sock');
  const held: Socket[] = [];
  const srv = createServer((s) => { held.push(s); s.on('error', () => undefined); });
  await new Promise<void>((r) => srv.listen(path, r));
  t.teardown(() => new Promise<void>((r) => { held.forEach((s) => s.destroy()); srv.close(() => r()); }));
  return path;
}

test.serial('a daemon that never answers costs at most the configured time, then the hook exits 0', async (t) => {
  const path = await silentDaemon(t);
  const r = await runHookScript(t, ['vm1', 'start', 'begin', '-'], domainXml(), { env: { VMANAGE_HOOK_SOCKET: path, VMANAGE_HOOK_TIMEOUT_MS: '600' } });
  t.is(r.code, 0);
  t.regex(r.stderr, /no answer within 600 ms|gave up after 600 ms/); // which timer wins depends on load
  t.true(r.ms < 600 + SLACK_MS, `took ${r.ms} ms`);
});

test.serial('stdin that never closes cannot hold the hook past its budget', async (t) => {
  const r = await runHookScript(t, ['vm1', 'prepare', 'begin', '-'], '<domain>', { holdStdin: true, env: { VMANAGE_HOOK_TIMEOUT_MS: '500' } });
  t.is(r.code, 0);
  t.regex(r.stderr, /gave up after 500 ms/);
  t.true(r.ms < 500 + SLACK_MS, `took ${r.ms} ms`);
});

test('migrate prints the domain XML unchanged when no rewrite is configured', async (t) => {
  const d = await listener(t);
  const xml = domainXml();
  const r = await runHookScript(t, ['vm1', 'migrate', 'begin', '-'], xml, { env: { VMANAGE_HOOK_SOCKET: d.path } });
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, xml);
  t.is(d.events[0]?.operation, 'migrate');
});

test('migrate rewrites only the vmanage channel socket path from the template, also with the daemon down', async (t) => {
  const dir = await tempDir(t);
  const xml = domainXml();
  const r = await runHookScript(t, ['vm1', 'migrate', 'begin', '-'], xml, {
    env: { VMANAGE_HOOK_SOCKET: join(dir, 'down.sock'), VMANAGE_HOOK_MIGRATE_CHANNEL_PATH: '/run/vmanage/b/{name}-{uuid}.sock' },
  });
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, xml.replace('/run/vmanage/vms/vm1.sock', `/run/vmanage/b/vm1-${VM_UUID}.sock`));
  t.true(r.stdout.includes('/var/lib/libvirt/qemu/channel/target/ga.sock'));
});

const malformed: ReadonlyArray<readonly [string, readonly string[], string, RegExp]> = [
  ['XML that is not well-formed', ['vm1', 'prepare', 'begin', '-'], '<domain><name>vm1</name>', /malformed/],
  ['XML without a UUID', ['vm1', 'prepare', 'begin', '-'], '<domain><name>vm1</name></domain>', /no <uuid>/],
  ['empty stdin', ['vm1', 'prepare', 'begin', '-'], '', /no domain XML/],
  ['an object that is not the XML name', ['other', 'prepare', 'begin', '-'], domainXml(), /not the domain XML's <name>/],
  ['three arguments', ['vm1', 'prepare', 'begin'], domainXml(), /expected 4 arguments/],
  ['an operation with shell characters', ['vm1', 'prepare;rm', 'begin', '-'], domainXml(), /operation/],
];

for (const [what, args, stdin, message] of malformed) {
  test(`malformed input (${what}) gives a clear message and the configured exit code`, async (t) => {
    const r = await runHookScript(t, args, stdin, { env: { VMANAGE_HOOK_MALFORMED_EXIT_CODE: '7', VMANAGE_HOOK_SOCKET: '/nonexistent/h.sock' } });
    t.is(r.code, 7, r.stderr);
    t.regex(r.stderr, message);
    t.is(r.stdout, '');
  });
}

test.serial('property: any stdin and arguments end within the bound with exit 0 or the configured malformed code', async (t) => {
  const dir = await tempDir(t);
  const env = { VMANAGE_HOOK_MALFORMED_EXIT_CODE: '5', VMANAGE_HOOK_TIMEOUT_MS: '800', VMANAGE_HOOK_SOCKET: join(dir, 'down.sock') };
  const arg = fc.oneof(fc.constantFrom('vm1', 'prepare', 'migrate', 'begin', '-', ''), fc.string({ maxLength: 40 }));
  const xmlish = fc.oneof(
    fc.string({ maxLength: 400 }),
    fc.constant(domainXml()).chain((x) => fc.nat({ max: x.length }).map((n) => x.slice(0, n))),
    fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a).toString('latin1')),
  );
  await fc.assert(fc.asyncProperty(fc.array(arg, { minLength: 0, maxLength: 5 }), xmlish, async (args, stdin) => {
    // Arguments cannot carry NUL through exec.
    const r = await runHookScript(t, args.map((a) => a.replaceAll('\u0000', '')), stdin, { env });
    return (r.code === 0 || r.code === 5) && r.ms < 800 + SLACK_MS;
  }), { numRuns: 25 });
  t.pass();
});

test('the daemon denying an incoming migration makes the hook fail and print no XML', async (t) => {
  const d = await listener(t, (e) => ({ allow: e.operation !== 'migrate', reason: 'destination over budget' }));
  const r = await runHookScript(t, ['vm1', 'migrate', 'begin', '-'], domainXml(), { env: { VMANAGE_HOOK_SOCKET: d.path } });
  t.is(r.code, 1);
  t.is(r.stdout, '');
  t.regex(r.stderr, /refused migrate of VM vm1 .*destination over budget/);
});

test('without node the wrapper fails open: exit 0, and migrate passes the XML through', async (t) => {
  const env = { VMANAGE_NODE: '/nonexistent/node' };
  const prepare = await runHookScript(t, ['vm1', 'prepare', 'begin', '-'], domainXml(), { env });
  t.is(prepare.code, 0);
  t.regex(prepare.stderr, /node or vmanage-hook.cjs not found/);
  const migrate = await runHookScript(t, ['vm1', 'migrate', 'begin', '-'], domainXml(), { env });
  t.is(migrate.code, 0);
  t.is(migrate.stdout, domainXml());
});
