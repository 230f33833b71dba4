// A daemon asked to stop twice (systemd's cgroup kill, coreutils `timeout` signalling its child and
// the child's process group, a second Ctrl-C) still finishes its clean stop and exits 0: the second
// signal must not fall through to Node's default action (death by SIGTERM, status 143).
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { stringify } from 'yaml';
import { startProcess, tempDir, waitFor, type Started } from '../support/proc.js';

const root = new URL('../..', import.meta.url).pathname;

/** Sends `first`, waits until the process says it is stopping, then sends `second`: two signals
 * sent back to back would be merged into one by the kernel. */
async function twoSignalsThenExit(p: Started, first: NodeJS.Signals, second: NodeJS.Signals, stopping: RegExp): Promise<{ code: number | null; signal: string | null }> {
  const exit = once(p.child, 'exit') as Promise<[number | null, string | null]>;
  p.child.kill(first);
  await waitFor('the first signal to be taken', () => stopping.test(p.output()) || p.child.exitCode !== null, 10_000, 5);
  p.child.kill(second);
  const [code, signal] = await exit;
  return { code, signal };
}

for (const [first, second] of [['SIGTERM', 'SIGTERM'], ['SIGINT', 'SIGTERM']] as const) {
  test(`a stop that takes a while survives ${first} then ${second} and exits 0`, async (t) => {
    const dir = await tempDir(t, 'vmanage-stop-signal-');
    const script = join(dir, 'daemon.mts');
    writeFileSync(script, [
      `import { untilStopSignal } from ${JSON.stringify(join(root, 'src/daemons/stop-signal.ts'))};`,
      'const keepAlive = setInterval(() => {}, 1000);',
      "process.stdout.write('ready\\n');",
      'const repeated: string[] = [];',
      'const signal = await untilStopSignal((s) => repeated.push(s));',
      "process.stdout.write('stopping\\n');",
      'await new Promise((r) => setTimeout(r, 300));',
      "process.stdout.write(`stopped after ${signal}, then ${repeated.join(',')}\\n`);",
      'clearInterval(keepAlive);',
    ].join('\n'));
    const p = await startProcess(t, process.execPath, ['--import', 'tsx', script], { cwd: root, ready: /ready/ });
    t.deepEqual(await twoSignalsThenExit(p, first, second, /stopping/), { code: 0, signal: null });
    t.regex(p.output(), new RegExp(`stopped after ${first}, then ${second}`));
  });
}

// The packaging test's way to run the leader (as built): coreutils `timeout` forwards SIGTERM to
// the leader and then to its own process group, so the leader gets it twice, a moment apart. How
// far apart is luck; the tests above pin the second signal down.
test('vmanage-leader as built, under coreutils timeout, sent SIGTERM, stops cleanly and exits 0', async (t) => {
  const dir = await tempDir(t, 'vmanage-stop-leader-');
  const file = join(dir, 'leader.yaml');
  writeFileSync(file, stringify({
    id: 't', listen: { unix: join(dir, 'leader.sock') }, store: { path: join(dir, 'leader.db') },
    http: { host: '127.0.0.1', port: 0 }, cluster: { budgetWatts: 1000 },
  }));
  for (let i = 0; i < 2; i++) {
    const p = await startProcess(t, 'timeout', ['60', process.execPath, join(root, 'dist/daemons/leader/main.js'), '--config', file], {
      cwd: root, ready: /vmanage-leader ready/, readyTimeoutMs: 60_000,
    });
    const exit = once(p.child, 'exit') as Promise<[number | null, string | null]>;
    p.child.kill('SIGTERM');
    const [code] = await exit;
    t.is(code, 0, `run ${i + 1}: ${p.output().slice(-600)}`);
    t.regex(p.output(), /leader stopped/);
  }
});
