import test from 'ava';
import { parseConfig } from '../../src/daemons/agent/config.js';
import { makeEvaluator, overall, PushStore } from '../../src/daemons/agent/sla.js';

const hist = (fast: number, slow: number): string => `lat_bucket{le="0.05"} ${fast}\nlat_bucket{le="1"} ${fast + slow}\nlat_bucket{le="+Inf"} ${fast + slow}\nreqs_total ${fast + slow}\n`;

function setup(objective: Record<string, unknown>, pages: string[]) {
  let now = 0;
  const cfg = parseConfig({ objectives: [objective] });
  const push = new PushStore(new Set(['app']), () => now);
  const fetchText = async (): Promise<string> => pages.shift() ?? '';
  const ev = makeEvaluator(cfg.objectives[0]!, { now: () => now, push, fetchText });
  return { ev, push, tick: (ms: number) => { now += ms; } };
}

test('a p95 latency objective is evaluated over the window since the previous scrape', async (t) => {
  const { ev } = setup({ name: 'p95', source: 'prometheus', kind: 'quantile', url: 'http://x/m', metric: 'lat', quantile: 0.95, op: '<=', target: 0.05 }, [hist(100, 0), hist(100, 50)]);
  t.is((await ev.evaluate()).status, 'ok');
  const second = await ev.evaluate();
  t.is(second.status, 'violated', 'the 50 new requests were all slow');
  t.true((second.value ?? 0) > 0.05);
});

test('a throughput objective is the counter rate per second between scrapes', async (t) => {
  const { ev, tick } = setup({ name: 'tput', source: 'prometheus', kind: 'rate', url: 'http://x/m', metric: 'reqs', op: '>=', target: 20 }, [hist(0, 0), hist(10, 0), hist(10, 100)]);
  t.is((await ev.evaluate()).status, 'unknown');
  tick(1000);
  t.like(await ev.evaluate(), { status: 'violated', value: 10 });
  tick(2000);
  t.like(await ev.evaluate(), { status: 'ok', value: 50 });
});

test('a failed scrape gives unknown with the reason, never a throw', async (t) => {
  let now = 0;
  const cfg = parseConfig({ objectives: [{ name: 'p', source: 'prometheus', kind: 'rate', url: 'http://x/m', metric: 'm', op: '>=', target: 1 }] });
  const ev = makeEvaluator(cfg.objectives[0]!, { now: () => now++, push: new PushStore(new Set(), () => 0), fetchText: () => Promise.reject(new Error('ECONNREFUSED')) });
  t.like(await ev.evaluate(), { status: 'unknown', value: null, error: 'ECONNREFUSED' });
});

const probes: [string, string[], 'exit' | 'value', string, number | null][] = [
  ['a probe that exits 0 is ok', ['/bin/true'], 'exit', 'ok', 0],
  ['a probe that exits 1 is violated', ['/bin/false'], 'exit', 'violated', 1],
  ['a probe that prints 12 against <= 10 is violated', ['/bin/echo', '12'], 'value', 'violated', 12],
  ['a probe that prints nothing numeric is unknown', ['/bin/echo', 'hi'], 'value', 'unknown', null],
  ['a probe that cannot start is unknown', ['/nonexistent/probe'], 'exit', 'unknown', null],
];
for (const [name, command, kind, status, value] of probes) {
  test(name, async (t) => {
    const target = kind === 'exit' ? 0 : 10;
    const { ev } = setup({ name: 'p', source: 'probe', kind, command, op: '<=', target }, []);
    t.like(await ev.evaluate(), { status, value });
  });
}

test('pushed values count until they are stale', async (t) => {
  const { ev, push, tick } = setup({ name: 'app', source: 'push', op: '<=', target: 50, staleMs: 1000 }, []);
  t.is((await ev.evaluate()).status, 'unknown');
  t.true(push.put('app', 70));
  t.false(push.put('other', 1), 'unconfigured names are rejected');
  t.like(await ev.evaluate(), { status: 'violated', value: 70 });
  tick(1001);
  t.is((await ev.evaluate()).status, 'unknown');
});

test('the overall status is violated if any objective is, ok only if all are', (t) => {
  const r = (status: 'ok' | 'violated' | 'unknown') => ({ name: 'x', status, value: 1, op: '<=' as const, target: 1 });
  t.is(overall([r('ok'), r('violated'), r('unknown')]), 'violated');
  t.is(overall([r('ok'), r('unknown')]), 'unknown');
  t.is(overall([r('ok')]), 'ok');
  t.is(overall([]), 'ok');
});
