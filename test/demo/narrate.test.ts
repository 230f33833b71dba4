import test from 'ava';
import fc from 'fast-check';
import { Narrator } from '../../src/demo/narrate.js';

const VM = '00000000-0000-4000-8000-00000000000a';
const names = (u: string): string | undefined => (u === VM ? 'vm-01' : undefined);
const decision = (policy: string, code: string, value: number, previous: number, extra: Record<string, unknown> = {}): string => JSON.stringify({
  level: 30, host: 'host-1', policy, kind: 'set-frequency-cap', value, previous, backend: 'ports', reason: { code, text: `because ${code}` }, ...extra,
});

const cases: { name: string; source: string; line: string; says: RegExp | undefined; counter?: keyof Narrator['counters'] }[] = [
  { name: 'an SLA-driven raise is a frequency raise', source: 'host-1', line: decision('sla-dvfs', 'sla-violation', 1_300_000, 1_200_000), says: /SLA violation -> frequency cap up 1\.20 GHz -> 1\.30 GHz/, counter: 'slaFrequencyRaises' },
  { name: 'a cut over the budget is a budget cap', source: 'host-1', line: decision('budget', 'budget-exceeded', 1_100_000, 1_300_000), says: /power over budget -> frequency capped 1\.30 GHz -> 1\.10 GHz/, counter: 'budgetCaps' },
  { name: 'the SLA policy lowering for the budget is a budget cap too', source: 'host-1', line: decision('sla-dvfs', 'budget-exceeded', 1_200_000, 1_300_000), says: /the budget wins/, counter: 'budgetCaps' },
  { name: 'relaxing for slack is neither', source: 'host-2', line: decision('sla-dvfs', 'sla-slack', 1_500_000, 1_600_000), says: /frequency cap 1\.60 GHz -> 1\.50 GHz/ },
  {
    name: 'a migration request names the VM', source: 'host-1', counter: 'migrationRequests', says: /asks the leader to move vm-01 away/,
    line: JSON.stringify({ host: 'host-1', vm: VM, policy: 'violation-trigger', kind: 'request-migration', value: 5, backend: 'ports', reason: { code: 'violation-frequency', text: 'x' } }),
  },
  { name: 'a finished migration is counted', source: 'host-1', line: JSON.stringify({ event: 'migration.succeeded', vm: VM, to: 'host-3', elapsedMs: 2900 }), says: /vm-01 now runs on host-3/, counter: 'migrations' },
  { name: 'a session handover is told', source: 'host-1', line: JSON.stringify({ event: 'guest.session', vm: VM, change: 'handed-off', destination: 'host-3', received: 20 }), says: /handed over to host-3/, counter: 'sessionHandovers' },
  { name: 'the leader\'s migration decision is told', source: 'leader', line: JSON.stringify({ event: 'leader.decision', kind: 'migrate-vm', target: VM, from: 'host-1', to: 'host-3', reason: { text: 'over budget' } }), says: /leader: migrate vm-01 host-1 -> host-3/, counter: 'leaderDecisions' },
  { name: 'budget splits are counted but not told', source: 'leader', line: JSON.stringify({ event: 'leader.decision', kind: 'set-host-budget', target: 'host-1', reason: { text: 'split' } }), says: undefined, counter: 'leaderDecisions' },
  { name: 'a line that is not JSON is ignored', source: 'host-1', line: 'Segmentation fault (not JSON)', says: undefined, counter: 'linesIgnored' },
  { name: 'a JSON array is ignored', source: 'host-1', line: '[1,2]', says: undefined, counter: 'linesIgnored' },
];

for (const c of cases) {
  test(c.name, (t) => {
    const n = new Narrator(names);
    const said = n.line(c.source, c.line);
    if (c.says) t.regex(said ?? '', c.says);
    else t.is(said, undefined);
    if (c.counter) t.is(n.counters[c.counter], 1);
  });
}

test('an SLA report is told only when the VM\'s status changes', (t) => {
  const n = new Narrator(names);
  const report = (status: string, value: number): string => JSON.stringify({ event: 'sla.report', vm: VM, stale: false, status, objective: { metric: 'latency_p95', op: '<=', target: 100, unit: 'ms' }, measured: { value, unit: 'ms' } });
  t.is(n.line('host-1', report('ok', 40)), undefined);
  t.regex(n.line('host-1', report('violated', 180)) ?? '', /vm-01 reports its SLA violated \(latency_p95 180 ms, objective <= 100 ms\)/);
  t.is(n.line('host-1', report('violated', 190)), undefined);
  t.regex(n.line('host-1', report('ok', 50)) ?? '', /meets its SLA again/);
  t.is(n.counters.slaViolationReports, 2);
});

test('hostile log lines never throw and are never told as migrations', (t) => {
  fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.json({ maxDepth: 3 }), fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v))), (line) => {
    const n = new Narrator(names);
    n.line('host-1', line);
    n.line('leader', line);
    return n.counters.linesRead === 2 && n.counters.migrations === 0;
  }));
  t.pass();
});
