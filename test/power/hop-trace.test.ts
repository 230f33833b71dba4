// The hop tracer behind `npm run bench -- control-loop --trace`: off by default, and with
// VMANAGE_HOP_TRACE=1 a process's marks (its own, its D-Bus traffic, its GC pauses, its
// event-loop delay) reach stderr in the clock every process shares. The traced process is a
// real child on a private bus, as the daemons are in the benchmark.
import test from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { monotonicMs, hopTracer } from '../../src/adapters/power/hop-trace.js';
import { HopCollector } from '../../bench/lib/control-loop-hops.js';
import { startPrivateBus } from '../support/dbus.js';
import { startProcess, tempDir } from '../support/proc.js';

const root = new URL('../..', import.meta.url).pathname;

test('hop tracing is off unless VMANAGE_HOP_TRACE=1, and a mark then does nothing', (t) => {
  t.not(process.env['VMANAGE_HOP_TRACE'], '1');
  const trace = hopTracer();
  t.false(trace.enabled);
  t.notThrows(() => trace.mark('x'));
});

test('a traced process writes its marks, its D-Bus messages, GC pauses and loop delay in the shared clock', async (t) => {
  const bus = await startPrivateBus(t, 'session');
  const dir = await tempDir(t);
  const script = join(dir, 'traced.mts');
  await writeFile(script, [
    `import dbus from ${JSON.stringify(join(root, 'node_modules/dbus-next/index.js'))};`,
    `import { hopTracer, traceBus } from ${JSON.stringify(join(root, 'src/adapters/power/hop-trace.ts'))};`,
    'const trace = hopTracer();',
    "trace.mark('test.first');",
    'const bus = dbus.sessionBus({ busAddress: process.env.BUS });',
    "traceBus(bus, 'probe');",
    "const obj = await bus.getProxyObject('org.freedesktop.DBus', '/org/freedesktop/DBus');",
    "await obj.getInterface('org.freedesktop.DBus').GetId();",
    "trace.mark('test.second');",
    '(globalThis as unknown as { gc: () => void }).gc();',
    'bus.disconnect();',
    "setTimeout(() => process.exit(0), 300);",
  ].join('\n'));
  const hops = new HopCollector();
  const before = monotonicMs();
  const proc = await startProcess(t, process.execPath, ['--expose-gc', '--import', 'tsx', script], {
    cwd: root, env: { ...process.env, VMANAGE_HOP_TRACE: '1', BUS: bus.address },
  });
  hops.attach(proc.child.stderr);
  await new Promise<void>((resolve) => {
    if (proc.child.exitCode !== null) resolve();
    else proc.child.once('close', () => resolve());
  });
  const after = monotonicMs();
  const names = hops.marks.map((m) => m.hop);
  t.true(names.includes('test.first'), proc.output());
  t.true(names.includes('test.second'));
  t.true(names.includes('probe.out:GetId'), names.join(' '));
  t.true(names.includes('probe.in:return'));
  t.true(names.some((n) => n.startsWith('gc:')), 'the forced GC is reported');
  t.true(names.includes('loop-delay'));
  for (const m of hops.marks) t.true(m.at >= before && m.at <= after, `${m.hop} at ${m.at} is outside [${before}, ${after}]`);
  const at = (hop: string): number => hops.marks.find((m) => m.hop === hop)?.at ?? Number.NaN;
  t.true(at('test.first') <= at('probe.out:GetId'));
  const reply = hops.marks.filter((m) => m.hop === 'probe.in:return' && m.at >= at('probe.out:GetId')).map((m) => m.at).sort((a, b) => a - b)[0];
  t.true(reply !== undefined && reply <= at('test.second'), 'the reply to GetId is marked between the call and the next mark');
  t.true(hops.marks.every((m) => /^traced\.mts:\d+$/.test(m.proc)));
});
