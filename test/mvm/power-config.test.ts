// The power, control and metrics sections of mvm.yaml, and the control socket's handling of
// untrusted requests.
import test from 'ava';
import fc from 'fast-check';
import { execFile } from 'node:child_process';
import { createConnection } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadMvmConfig, parseMvmConfig } from '../../src/daemons/mvm/config.js';
import { reportSlack } from '../../src/daemons/mvm/control-loop.js';
import { startControlServer } from '../../src/daemons/mvm/control.js';
import { linearDvfsModel } from '../../src/daemons/mvm/power.js';
import type { SlaReport } from '../../src/protocol/guest.js';
import { tempDir } from '../support/proc.js';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const power = { sensor: { kind: 'sim' }, actuator: { kind: 'powerd' }, model: { idleWatts: 100, peakWatts: 200 }, budget: { safeWatts: 150 } };

test('a YAML file with a power section gets the recommended policy set and defaults', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'mvm.yaml');
  await writeFile(file, 'host: a\nhypervisor: {}\npower:\n  sensor: { kind: sim }\n  actuator: { kind: powerd, limitSource: rapl }\n  model: { idleWatts: 90, peakWatts: 250 }\n  budget: { watts: 200, safeWatts: 150 }\ncontrol: { socket: /run/vmanage/control.sock }\nmetrics: { port: 9650 }\n');
  const cfg = loadMvmConfig(file);
  t.deepEqual(cfg.power?.policies.map((p) => p.name), ['sla-dvfs', 'budget', 'violation-trigger', 'fail-safe']);
  t.is(cfg.power?.periodMs, 1000);
  t.deepEqual(cfg.power?.sensor, { kind: 'sim', utilisation: 0.5 });
  t.is(cfg.metrics?.host, '127.0.0.1');
});

test('every problem in the power section is reported at once, each as path: problem', (t) => {
  const err = t.throws(() => parseMvmConfig({
    host: 'a', hypervisor: {},
    power: { sensor: { kind: 'thermometer' }, actuator: { kind: 'powerd', timeoutMs: 1 }, model: { idleWatts: 200, peakWatts: 100 }, budget: { safeWatts: -5 }, rails: { 'set-volume': {} } },
    metrics: { port: 70_000 },
  }));
  const problems = (err as unknown as { details: { problems: string[] } }).details.problems;
  for (const path of ['power.sensor.kind', 'power.actuator.timeoutMs', 'power.model', 'power.budget.safeWatts', 'power.rails', 'metrics.port']) {
    t.true(problems.some((p) => p.startsWith(`${path}:`) || p.startsWith(`${path}.`)), `${path} in ${problems.join(' / ')}`);
  }
});

test('a file that is not YAML is named with the parser\'s problem, exit 2', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'mvm.yaml');
  await writeFile(file, 'host: [unclosed\n');
  const err = await t.throwsAsync(run(process.execPath, ['--import', 'tsx', join(root, 'src/daemons/mvm/main.ts'), '-c', file], { cwd: root }));
  t.is((err as unknown as { code: number }).code, 2);
  t.regex((err as unknown as { stderr: string }).stderr, new RegExp(`${file}:`));
});

test('the power configuration parser never throws anything but a VmanageError (fuzzed)', (t) => {
  fc.assert(fc.property(fc.anything(), fc.anything(), (sensor, budget) => {
    try {
      parseMvmConfig({ host: 'a', hypervisor: {}, power: { ...power, sensor, budget } });
    } catch (err) {
      return (err as { code?: string }).code === 'CONFIG_INVALID';
    }
    return true;
  }), { numRuns: 300 });
  t.pass();
});

const report = (op: SlaReport['objective']['op'], target: number, value: number): SlaReport => ({
  status: 'ok', objective: { metric: 'm', op, target, unit: 'ms' }, measured: { value, unit: 'ms' }, window_s: 10, ts: 0,
} as SlaReport);

const slackCases: [string, SlaReport, number][] = [
  ['latency under its target has positive slack', report('<=', 100, 60), 0.4],
  ['latency over its target has negative slack', report('<', 100, 150), -0.5],
  ['throughput over its target has positive slack', report('>=', 200, 250), 0.25],
  ['slack is clamped to -1', report('>=', 10, -1000), -1],
  ['a zero target uses an absolute scale', report('<=', 0, -0.5), 0.5],
];
for (const [what, r, expected] of slackCases) test(`slack: ${what}`, (t) => t.is(Math.round(reportSlack(r) * 1000) / 1000, expected));

test('the linear DVFS model spans idle..peak at full clock and saves power at a lower clock', (t) => {
  const m = linearDvfsModel({ idleWatts: 100, peakWatts: 200, vFloor: 0.6 });
  t.is(m.watts(0, 1), 100);
  t.is(m.watts(1, 1), 200);
  t.true(m.watts(1, 0.5) < 200 && m.watts(1, 0.5) > 100);
});

async function ask(path: string, line: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const c = createConnection(path);
    let buf = '';
    c.setEncoding('utf8');
    c.on('connect', () => c.write(line));
    c.on('data', (d: string) => { buf += d; if (buf.includes('\n')) { c.end(); resolve(buf.slice(0, buf.indexOf('\n'))); } });
    c.on('error', reject);
  });
}

test('the control socket answers status, names a bad request plainly, and counts it', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'control.sock');
  const srv = await startControlServer(path, () => ({ host: 'h1' }));
  t.teardown(() => srv.close());
  t.deepEqual(JSON.parse(await ask(path, '{"op":"status"}\n')), { host: 'h1' });
  t.regex(await ask(path, 'not json\n'), /expected one JSON object per line/);
  t.regex(JSON.parse(await ask(path, '{"op":"reboot"}\n')).error.message, /op: expected "status", got "reboot"/);
  t.regex(await ask(path, 'x'.repeat(10_000)), /line longer than 4096 bytes/);
  t.deepEqual(srv.counters, { requests: 3, badRequests: 3, refusedClients: 0 });
});

test('the documented example configuration (docs/mvm.example.yaml) is accepted', (t) => {
  const cfg = loadMvmConfig(join(root, 'docs/mvm.example.yaml'));
  t.is(cfg.power?.policies.length, 5);
  t.is(cfg.leader?.trust, 'trusted');
});

test('a leader without the power section is refused by name', (t) => {
  const err = t.throws(() => parseMvmConfig({ host: 'a', hypervisor: {}, leader: { endpoint: { unix: '/run/l.sock' } } }));
  t.regex(err!.message, /leader: a leader needs the power section/);
});

test('sensor sources: rapl and a BMC are accepted; a BMC entry with a bad port is named by path', (t) => {
  t.is(parseMvmConfig({ host: 'a', hypervisor: {}, power: { ...power, sensor: { kind: 'rapl' } } }).power?.sensor.kind, 'rapl');
  const bmc = { protocol: 'ipmi', target: { kind: 'lan', host: '10.0.0.9', port: 623, username: 'u', password: 'p' } };
  const ok = parseMvmConfig({ host: 'a', hypervisor: {}, power: { ...power, sensor: { kind: 'bmc', bmc } } });
  t.is(ok.power?.sensor.kind, 'bmc');
  const err = t.throws(() => parseMvmConfig({ host: 'a', hypervisor: {}, power: { ...power, sensor: { kind: 'bmc', bmc: { ...bmc, target: { ...bmc.target, port: 0 } } } } }));
  t.regex(err!.message, /power\.sensor\.bmc\.target\.port:/);
});
