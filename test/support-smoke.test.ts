import test from 'ava';
import { startPrivateBus } from './support/dbus.js';
import { pidAlive, sleep, startProcess } from './support/proc.js';

test('a private bus starts, answers and is stopped by PID', async (t) => {
  const bus = await startPrivateBus(t, 'system');
  t.regex(bus.address, /^unix:path=/);
  t.true(pidAlive(bus.pid));
  await bus.stop();
  await sleep(50);
  t.false(pidAlive(bus.pid));
});

test('a process that exits before it is ready fails its start with its exit code and output', async (t) => {
  const err = await t.throwsAsync(startProcess(t, 'sh', ['-c', 'echo bind: Address already in use; exit 3'], { ready: /never printed/, readyTimeoutMs: 60_000 }));
  t.regex(err!.message, /^sh exited with 3 before it was ready: bind: Address already in use/);
});
