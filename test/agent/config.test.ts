import test from 'ava';
import fc from 'fast-check';
import { ConfigError, defaults, parseConfig } from '../../src/daemons/agent/config.js';
import { parseArgs } from '../../src/daemons/agent/cli.js';

test('an empty configuration gives the defaults', (t) => {
  t.deepEqual(parseConfig({}), { ...defaults, pushSocket: undefined, pushHttp: undefined });
});

test('a full configuration is accepted with every objective kind', (t) => {
  const cfg = parseConfig({
    heartbeatMs: 1000, reportMs: 500, pushSocket: '/run/a.sock', pushHttp: { port: 9465 },
    objectives: [
      { name: 'p95', source: 'prometheus', kind: 'quantile', url: 'http://127.0.0.1:9100/metrics', metric: 'req_seconds', quantile: 0.95, op: '<=', target: 0.05, unit: 's' },
      { name: 'tput', source: 'prometheus', kind: 'rate', url: 'http://127.0.0.1:9100/metrics', metric: 'req_total', op: '>=', target: 100 },
      { name: 'probe', source: 'probe', command: ['/bin/true'], op: '<=', target: 0 },
      { name: 'app', source: 'push', op: '<=', target: 50, staleMs: 1000 },
    ],
  });
  t.is(cfg.objectives.length, 4);
  t.deepEqual(cfg.pushHttp, { host: '127.0.0.1', port: 9465 });
});

const bad: [string, unknown, string[]][] = [
  ['a non-object', [], ['(root): expected a JSON object, got []']],
  ['an unknown key and a bad period', { foo: 1, reportMs: 1 }, ['foo: unknown key', 'reportMs: expected a number in [50, 3600000], got 1']],
  ['an objective without a source', { objectives: [{ name: 'x', op: '<=', target: 1 }] }, ['objectives[0].source: expected one of "prometheus", "probe", "push", got nothing']],
  ['a probe with a string command', { objectives: [{ name: 'x', source: 'probe', command: 'ls', op: '<=', target: 0 }] }, ['objectives[0].command: expected a non-empty array of strings (argv), got "ls"']],
  ['duplicate names', { objectives: [{ name: 'x', source: 'push', op: '<=', target: 1 }, { name: 'x', source: 'push', op: '>=', target: 1 }] }, ['objectives[1].name: duplicate objective name "x"']],
  ['a non-http scrape URL and a bad op', { objectives: [{ name: 'x', source: 'prometheus', kind: 'rate', url: 'file:///x', metric: 'm', op: '<', target: 1 }] },
    ['objectives[0].op: expected one of "<=", ">=", got "<"', 'objectives[0].url: expected an http:// URL, got "file:///x"']],
];

for (const [what, input, problems] of bad) {
  test(`a configuration with ${what} is rejected, naming every problem`, (t) => {
    const err = t.throws(() => parseConfig(input), { instanceOf: ConfigError });
    t.deepEqual(err?.problems, problems);
  });
}

test('any JSON value either parses or gives a ConfigError with at most 100 problems', (t) => {
  fc.assert(fc.property(fc.jsonValue(), (v) => {
    try {
      parseConfig(v);
    } catch (err) {
      if (!(err instanceof ConfigError)) return false;
      return err.problems.length > 0 && err.problems.length <= 100;
    }
    return true;
  }), { numRuns: 500 });
  t.pass();
});

test('the command line accepts its options and rejects unknown ones', (t) => {
  t.is(parseArgs(['--help']), 'help');
  t.deepEqual(parseArgs(['--config', '/x.json', '--xenstore', '--log-level', 'debug']), { config: '/x.json', xenstore: true, logLevel: 'debug', check: false });
  t.throws(() => parseArgs(['--bogus']), { message: /--bogus: unknown option/ });
  t.throws(() => parseArgs(['--config']), { message: /--config: expected a value/ });
});
