// The demo orchestrator end to end, small: two real host daemons (no leader) on the simulated
// world for a few seconds of fast-forwarded traces. The full story with the leader is CI's
// scripts/test-demo.sh.
import test from 'ava';
import { DEMO_DEFAULTS, runDemo } from '../../src/demo/run.js';
import { pidAlive } from '../support/proc.js';

test('the demo runs real host daemons on the world, narrates their decisions and stops every one of them', async (t) => {
  const lines: string[] = [];
  const summary = await runDemo({ ...DEMO_DEFAULTS, hosts: 2, durationS: 14, stepMs: 1000, noLeader: true }, (l) => lines.push(l));
  t.is(summary.failed, undefined);
  t.is(summary.leader, false);
  t.is(summary.pids.length, 2);
  for (const pid of summary.pids) t.false(pidAlive(pid), `pid ${pid} still alive`);
  t.true(summary.slaFrequencyRaises >= 1, `narration:\n${lines.join('\n')}`);
  t.true(lines.some((l) => /reports its SLA violated \(latency_p95/.test(l)), 'a guest agent report was narrated');
  t.true(summary.budgetViolationPct >= 0 && summary.budgetViolationPct < 100);
  t.is(summary.migrations, 0, 'no leader: nothing migrates');
});

test('a host daemon that dies ends the demo early, says which one, and the others are still stopped', async (t) => {
  const lines: string[] = [];
  let killed = false;
  const summary = await runDemo({ ...DEMO_DEFAULTS, hosts: 2, durationS: 60, stepMs: 1000, noLeader: true }, (l) => {
    lines.push(l);
    const pids = /host daemons up \(pids (\d+), (\d+)\)/.exec(l);
    if (pids && !killed) {
      killed = true;
      process.kill(Number(pids[2]), 'SIGKILL');
    }
  });
  t.true(killed, lines.join('\n'));
  t.regex(summary.failed ?? '', /^host-2 exited with SIGKILL/);
  t.true(summary.durationS < 40, `stopped early (${summary.durationS} s)`);
  for (const pid of summary.pids) t.false(pidAlive(pid), `pid ${pid} still alive`);
});
