// The control-loop benchmark's --slices: two CPU cgroups standing for system.slice and
// machine.slice, with the weights asked for, that processes are moved into and that are removed
// afterwards. Runs as root on a machine with a cgroup cpu controller (CI's); elsewhere it says why.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupOf, createSlices } from '../../bench/lib/slices.js';
import { startProcess } from '../support/proc.js';

const usable = process.getuid?.() === 0 && (existsSync('/sys/fs/cgroup/cpu/cpu.shares') || readControllers().includes('cpu'));

function readControllers(): string {
  try {
    return readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8');
  } catch {
    return '';
  }
}

test('weights outside systemd\'s CPUWeight range are refused before anything is created', (t) => {
  for (const w of [0, 10_001, 1.5, Number.NaN]) {
    t.throws(() => createSlices({ systemWeight: w, guestsWeight: 100, prefix: 'vmanage-test-never' }), { message: /systemWeight: expected a whole number in 1\.\.10000/ });
  }
  t.false(existsSync('/sys/fs/cgroup/cpu/vmanage-test-never-system'));
});

(usable ? test : test.skip)('a hog moved into the guests group runs there with its weight; close moves it back and removes both groups', async (t) => {
  const s = createSlices({ systemWeight: 300, guestsWeight: 100, prefix: `vmanage-test-${process.pid}` });
  let closed = false;
  t.teardown(async () => { if (!closed) await s.close(); });
  const weightFile = s.version === 'v2' ? 'cpu.weight' : 'cpu.shares';
  t.is(readFileSync(join(s.systemDir, weightFile), 'utf8').trim(), s.version === 'v2' ? '300' : '3072');
  t.is(readFileSync(join(s.guestsDir, weightFile), 'utf8').trim(), s.version === 'v2' ? '100' : '1024');
  const hog = await startProcess(t, process.execPath, ['-e', 'process.stdout.write("up\\n"); setInterval(() => {}, 1000)'], { ready: /up/ });
  s.guests(hog.pid);
  t.is(cgroupOf(hog.pid, s.version), `/${s.guestsDir.split('/').pop()}`);
  // Still running at close: it goes back to the root group, and the groups are removed anyway.
  await s.close();
  closed = true;
  t.is(cgroupOf(hog.pid, s.version), '/');
  t.false(existsSync(s.systemDir));
  t.false(existsSync(s.guestsDir));
  await hog.stop('SIGKILL');
});
