import test from 'ava';
import { startPrivateBus } from './support/dbus.js';
import { pidAlive, sleep } from './support/proc.js';

test('a private bus starts, answers and is stopped by PID', async (t) => {
  const bus = await startPrivateBus(t, 'system');
  t.regex(bus.address, /^unix:path=/);
  t.true(pidAlive(bus.pid));
  await bus.stop();
  await sleep(50);
  t.false(pidAlive(bus.pid));
});
