// vmanage-powerd as a real child process on a private system bus, against a kernel-shaped fake
// sysfs. powerd runs as root with an empty capability bounding set (as its service unit should),
// so without CAP_DAC_OVERRIDE read-only sysfs files refuse writes the way the kernel's do.
import test from 'ava';
import fc from 'fast-check';
import dbus from 'dbus-next';
import type { MessageBus } from 'dbus-next';
import { execFile } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PowerdClient } from '../../src/adapters/power/powerd-client.js';
import { disconnectBus, POWER1_IFACE, POWER1_NAME, POWER1_PATH } from '../../src/adapters/power/powerd-client-protocol.js';
import { isVmanageError } from '../../src/domain/errors.js';
import { startPrivateBus, type PrivateBus } from '../support/dbus.js';
import { redfishCredentials, startRedfish } from '../support/redfish.js';
import { intelPstatePolicies, makeFakeSysfs, raplPackage, type FakeSysfs } from '../support/fakesysfs.js';
import { pidAlive, startProcess, tempDir, type Started, type Teardown } from '../support/proc.js';

const run = promisify(execFile);
const MAIN = 'src/daemons/powerd/main.ts';
const P0 = 'sys/devices/system/cpu/cpufreq/policy0';

interface Powerd { bus: PrivateBus; fake: FakeSysfs; proc: Started; client: MessageBus; powerd: PowerdClient }

async function startPowerd(t: Teardown, config = '', allow = '{ uids: [0], groups: [] }', busPolicy = ''): Promise<Powerd> {
  const bus = await startPrivateBus(t, 'system', busPolicy);
  await chmod(bus.dir, 0o755); // lets the uid-65534 caller reach the socket
  const fake = await makeFakeSysfs(t, { policies: intelPstatePolicies(2), rapl: [raplPackage(0), raplPackage(1)] });
  const dir = await tempDir(t, 'vmanage-powerd-');
  const file = join(dir, 'powerd.yaml');
  const interval = config.includes('readingIntervalMs') ? '' : 'readingIntervalMs: 0\n';
  await writeFile(file, `sysfsRoot: ${fake.root}\n${interval}allow: ${allow}\n${config}`);
  const proc = await startProcess(t, 'setpriv', ['--bounding-set=-all', process.execPath, '--import', 'tsx', MAIN, '--config', file], {
    env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: bus.address }, ready: /vmanage-powerd ready/, readyTimeoutMs: 60_000,
  });
  const client = dbus.sessionBus({ busAddress: bus.address });
  client.on('error', () => undefined); // writes after the bus daemon stopped, at teardown
  t.teardown(() => disconnectBus(client));
  const powerd = await PowerdClient.connect({ bus: client });
  return { bus, fake, proc, client, powerd };
}

// One powerd with the default configuration serves the tests that restore what they change
// (starting a daemon per test overloads a small shared machine); tests run serially.
const sharedTeardowns: (() => unknown)[] = [];
let sharedPowerd: Promise<Powerd> | undefined;
function shared(): Promise<Powerd> {
  sharedPowerd ??= startPowerd({ teardown: (fn) => { sharedTeardowns.push(fn); } });
  return sharedPowerd;
}
test.after.always(async () => {
  for (const fn of sharedTeardowns.reverse()) await fn();
});

/** Runs a dbus-next snippet (bus in `bus`) as another uid/gid; resolves to what it prints. */
async function runAs(uid: number, gid: number, address: string, snippet: string): Promise<string> {
  const script = `
    import dbus from 'dbus-next';
    const bus = dbus.sessionBus({ busAddress: ${JSON.stringify(address)} });
    try { ${snippet} } catch (e) { console.log(e.type ?? e.message); }
    bus.disconnect();`; // connected: the snippet's call completed the handshake
  const { stdout } = await run('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', process.execPath, '--input-type=module', '-e', script], { cwd: process.cwd() });
  return stdout.trim();
}

/** Calls a Power1 method as uid/gid 65534 (nobody/nogroup); resolves to the D-Bus error name or "ok". */
async function callAsNobody(address: string, method: string, signature: string, body: unknown[], uid = 65534, gid = 65534): Promise<string> {
  return runAs(uid, gid, address, `
    await bus.call(new dbus.Message({ destination: '${POWER1_NAME}', path: '${POWER1_PATH}', interface: '${POWER1_IFACE}', member: ${JSON.stringify(method)}, signature: ${JSON.stringify(signature)}, body: ${JSON.stringify(body)} }));
    console.log('ok');`);
}

test.serial('powerd reports caps and limits, and a cap change writes every policy, signals CapChanged and updates the property', async (t) => {
  const { fake, client, powerd } = await shared();
  const state = await powerd.getState();
  t.is(state.frequency?.capKHz, null);
  t.is(state.frequency?.policies.length, 2);
  t.deepEqual(state.powerLimits, [{ source: 'rapl', limitWatts: 250, minWatts: 20, maxWatts: 250 }]);

  const props = (await client.getProxyObject(POWER1_NAME, POWER1_PATH)).getInterface('org.freedesktop.DBus.Properties');
  const propsChanged = new Promise<Record<string, { value: unknown }>>((resolve) => props.on('PropertiesChanged', (_i: string, changed: Record<string, { value: unknown }>) => { if ('FrequencyCapKHz' in changed) resolve(changed); }));
  const signal = new Promise((resolve) => powerd.onCapChanged(resolve));
  await powerd.setMaxFrequency(2_000_000);
  t.is(await fake.read(`${P0}/scaling_max_freq`), '2000000\n');
  t.is(await fake.read('sys/devices/system/cpu/cpufreq/policy1/scaling_max_freq'), '2000000\n');
  t.like(await signal, { what: 'frequency-cap', uid: 0, old: '', new: '2000000' });
  t.is((await propsChanged).FrequencyCapKHz?.value, 2_000_000);
  t.is((await props.Get!(POWER1_IFACE, 'FrequencyCapKHz') as { value: number }).value, 2_000_000);

  await powerd.clearMaxFrequency();
  t.is(await fake.read(`${P0}/scaling_max_freq`), '3900000\n');
  await powerd.setGovernor('performance');
  t.is(await fake.read(`${P0}/scaling_governor`), 'performance\n');
  await powerd.setGovernor('powersave');
});

test.serial('caps outside the hardware limits are refused with OutOfBounds naming the limit and value', async (t) => {
  const { fake, client, powerd } = await shared();
  const raw = (await client.getProxyObject(POWER1_NAME, POWER1_PATH)).getInterface(POWER1_IFACE);
  const err = await t.throwsAsync(raw.SetFrequencyCap!(5_000_000) as Promise<void>);
  t.is((err as unknown as { type: string }).type, 'org.vmanage.Power1.Error.OutOfBounds');
  t.regex((err as unknown as { text: string }).text, /5000000 kHz is above cpuinfo_max_freq \(3900000 kHz\) of policy0/);
  const mapped = await t.throwsAsync(powerd.powerLimit('rapl').setLimit(400));
  t.true(isVmanageError(mapped, 'OUT_OF_BOUNDS'));
  t.regex(mapped.message, /400 W is above maxWatts \(250 W\)/);
  t.is(await fake.read(`${P0}/scaling_max_freq`), '3900000\n');
  const unknown = await t.throwsAsync(powerd.powerLimit('dcmi').setLimit(100));
  t.true(isVmanageError(unknown, 'NOT_FOUND'));
});

test.serial('a RAPL counter turned to garbage gives SensorUnavailable through powerd, shown in the state', async (t) => {
  const { fake, powerd } = await shared();
  t.is((await powerd.sensor.read()).source, 'powerd:rapl:package-0+package-1');
  t.teardown(() => fake.setEnergy(1, 1_000_000));
  await fake.setEnergy(1, 'lots' as unknown as number);
  await new Promise((r) => setTimeout(r, 15)); // past the sensor's minimum interval
  const err = await t.throwsAsync(powerd.sensor.read());
  t.true(isVmanageError(err, 'POWER_SENSOR_UNAVAILABLE'), String(err));
  t.regex((await powerd.getState()).readingError ?? '', /intel-rapl:1\/energy_uj: expected an unsigned decimal integer/);
  t.is(powerd.sensor.last()?.stale, true);
});

test.serial('a powerd that stops answering gives TIMEOUT within the client deadline', async (t) => {
  const { bus, proc } = await shared();
  const conn = dbus.sessionBus({ busAddress: bus.address });
  conn.on('error', () => undefined);
  t.teardown(() => disconnectBus(conn));
  const client = await PowerdClient.connect({ bus: conn, timeoutMs: 300 });
  process.kill(proc.pid, 'SIGSTOP');
  t.teardown(() => { process.kill(proc.pid, 'SIGCONT'); });
  const err = await t.throwsAsync(client.setMaxFrequency(2_000_000));
  t.true(isVmanageError(err, 'TIMEOUT'), String(err));
  process.kill(proc.pid, 'SIGCONT');
  t.truthy(await client.getState());
  await client.clearMaxFrequency(); // the call that timed out ran after SIGCONT
});

test.serial('a RAPL limit set through powerd is written to each package and read back', async (t) => {
  const { fake, powerd } = await shared();
  await powerd.powerLimit('rapl').setLimit(160);
  t.is(await fake.read('sys/class/powercap/intel-rapl:1/constraint_0_power_limit_uw'), '80000000\n');
  t.is((await powerd.powerLimit('rapl').state()).limitWatts, 160);
  await powerd.powerLimit('rapl').clearLimit();
  t.is((await powerd.powerLimit('rapl').state()).limitWatts, null);
});

test.serial('a caller whose uid is not allowed is refused with AccessDenied and nothing is written', async (t) => {
  const { bus, fake } = await shared();
  t.is(await callAsNobody(bus.address, 'SetFrequencyCap', 'u', [1_000_000]), 'org.vmanage.Power1.Error.AccessDenied');
  t.is(await callAsNobody(bus.address, 'SetPowerLimit', 'su', ['rapl', 100]), 'org.vmanage.Power1.Error.AccessDenied');
  t.is(await callAsNobody(bus.address, 'GetState', '', []), 'ok');
  t.is(await fake.read(`${P0}/scaling_max_freq`), '3900000\n');
});

test.serial('a caller allowed through one of its groups may change caps', async (t) => {
  const { bus, fake } = await startPowerd(t, '', '{ uids: [0], groups: [nogroup] }');
  t.is(await callAsNobody(bus.address, 'SetFrequencyCap', 'u', [1_000_000]), 'ok');
  t.is(await fake.read(`${P0}/scaling_max_freq`), '1000000\n');
});

test.serial('the install bus policy lets only root own the name and only root and the group call it', async (t) => {
  const conf = await readFile('packaging/dbus/org.vmanage.Power1.conf', 'utf8');
  // This machine has no "vmanage" group: the test gives the group's rights to nogroup (gid 65534).
  const policies = (conf.match(/<policy[\s\S]*?<\/policy>/g) ?? []).join('\n').replace('group="vmanage"', 'group="nogroup"');
  t.true(policies.includes('<deny own="org.vmanage.Power1"/>'));
  const { bus } = await startPowerd(t, '', '{ uids: [0], groups: [] }', policies);
  t.is(await callAsNobody(bus.address, 'GetState', '', []), 'ok');
  t.is(await callAsNobody(bus.address, 'GetState', '', [], 1, 1), 'org.freedesktop.DBus.Error.AccessDenied'); // daemon:daemon
  t.is(await runAs(65534, 65534, bus.address, `console.log(await bus.requestName('${POWER1_NAME}', 4));`), 'org.freedesktop.DBus.Error.AccessDenied');
});

test.serial('root is refused too when the allowed uids leave it out, and the client maps that to PERMISSION_DENIED', async (t) => {
  const bus = await startPrivateBus(t, 'system');
  const fake = await makeFakeSysfs(t, { policies: intelPstatePolicies(1) });
  const file = join(await tempDir(t), 'p.yaml');
  await writeFile(file, `sysfsRoot: ${fake.root}\nreadingIntervalMs: 0\nrapl: { enabled: false }\nallow: { uids: [4242], groups: [] }\n`);
  await startProcess(t, process.execPath, ['--import', 'tsx', MAIN, '--config', file], { env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: bus.address }, ready: /vmanage-powerd ready/, readyTimeoutMs: 60_000 });
  const client = dbus.sessionBus({ busAddress: bus.address });
  client.on('error', () => undefined); // writes after the bus daemon stopped, at teardown
  t.teardown(() => disconnectBus(client));
  const other = await PowerdClient.connect({ bus: client });
  const err = await t.throwsAsync(other.setMaxFrequency(1_000_000));
  t.true(isVmanageError(err, 'PERMISSION_DENIED'));
  t.regex(err.message, /uid 0 .* not allowed/);
});

test.serial('a read-only sysfs attribute refuses powerd\'s write as the kernel would, as a typed error', async (t) => {
  const { fake, powerd } = await shared();
  await chmod(fake.path(`${P0}/scaling_max_freq`), 0o444);
  t.teardown(() => chmod(fake.path(`${P0}/scaling_max_freq`), 0o644));
  const err = await t.throwsAsync(powerd.setMaxFrequency(2_000_000));
  t.true(isVmanageError(err, 'PERMISSION_DENIED'), String(err));
  t.regex(err.message, /scaling_max_freq: EACCES/);
});

test.serial('fuzzed method arguments get D-Bus errors or succeed, and powerd keeps answering', async (t) => {
  const { proc, client, powerd } = await shared();
  const text = fc.string({ unit: 'grapheme', maxLength: 80 });
  const call = fc.oneof(
    fc.record({ m: fc.constant('SetFrequencyCap'), s: fc.constant('u'), b: fc.tuple(fc.nat({ max: 0xffffffff })) }),
    fc.record({ m: fc.constantFrom('SetGovernor', 'SetEpp', 'ClearPowerLimit'), s: fc.constant('s'), b: fc.tuple(text) }),
    fc.record({ m: fc.constant('SetPowerLimit'), s: fc.constant('su'), b: fc.tuple(fc.oneof(text, fc.constant('rapl')), fc.nat({ max: 0xffffffff })) }),
    fc.record({ m: fc.constantFrom('SetFrequencyCap', 'SetPowerLimit', 'GetState', 'Nope'), s: fc.constantFrom('', 's', 'x', 'ai', 'ss'), b: fc.constant(null) }),
  );
  const bodyFor = (s: string): unknown[] => ({ '': [], s: ['x'], x: [BigInt(-1)], ai: [[1, 2]], ss: ['a', 'b'] } as Record<string, unknown[]>)[s] ?? [];
  await fc.assert(fc.asyncProperty(call, async ({ m, s, b }) => {
    try {
      await client.call(new dbus.Message({ destination: POWER1_NAME, path: POWER1_PATH, interface: POWER1_IFACE, member: m, signature: s, body: b ?? bodyFor(s) }));
    } catch (err) {
      const type = (err as { type?: string }).type ?? '';
      if (!/^org\.(vmanage\.Power1|freedesktop\.DBus)\.Error\./.test(type)) throw err;
      if (type.endsWith('.Failed')) throw new Error(`unexpected generic failure: ${(err as { text?: string }).text}`);
    }
  }), { numRuns: 150 });
  t.true(pidAlive(proc.pid));
  t.truthy(await powerd.getState());
  const counters = await powerd.counters();
  t.true(counters['power1.refused']! > 0 && counters['sysfs.reads']! > 0, JSON.stringify(counters));
  t.is(counters['power1.failed'], 0);
  await powerd.clearMaxFrequency();
  await powerd.powerLimit('rapl').clearLimit();
});

test.serial('an invalid configuration makes powerd exit 2 listing every problem as path: problem', async (t) => {
  const file = join(await tempDir(t), 'bad.yaml');
  await writeFile(file, 'bus: tcp\nallow: { uids: [-1] }\nreadingIntervalMs: soon\n');
  const err = await t.throwsAsync(run(process.execPath, ['--import', 'tsx', MAIN, '--config', file]));
  const e = err as unknown as { code: number; stderr: string };
  t.is(e.code, 2);
  t.regex(e.stderr, /^bus: /m);
  t.regex(e.stderr, /^allow\.uids\.0: /m);
  t.regex(e.stderr, /^readingIntervalMs: /m);
});

test.serial('a BMC power-limit plug-in with invalid options is a configuration error naming the option', async (t) => {
  const file = join(await tempDir(t), 'bad.yaml');
  await writeFile(file, 'readingIntervalMs: 0\npowerLimits:\n  - kind: dcmi\n    options: { target: { kind: lan } }\n  - kind: redfish\n    options: { baseUrl: ftp://x, username: a, password: b }\n');
  const err = await t.throwsAsync(run(process.execPath, ['--import', 'tsx', MAIN, '--config', file]));
  const e = err as unknown as { code: number; stderr: string };
  t.is(e.code, 2);
  t.regex(e.stderr, /^powerLimits\.0\.options\.target\.host: /m);
  t.regex(e.stderr, /^powerLimits\.1\.options\.baseUrl: expected http/m);
});

test.serial('a Redfish power limit plugged in by configuration is set through powerd and refused outside the BMC\'s range', async (t) => {
  const redfish = await startRedfish(t);
  const { powerd } = await startPowerd(t, `powerLimits:\n  - kind: redfish\n    options: { baseUrl: "${redfish.url}", username: ${redfishCredentials.username}, password: ${redfishCredentials.password}, timeoutMs: 2000 }\n`);
  await powerd.powerLimit('redfish').setLimit(400);
  t.is(redfish.state.limitWatts, 400);
  t.is((await powerd.powerLimit('redfish').state()).limitWatts, 400);
  const err = await t.throwsAsync(powerd.powerLimit('redfish').setLimit(900));
  t.true(isVmanageError(err, 'OUT_OF_BOUNDS'));
  t.regex(err.message, /900 W is above maxWatts \(800 W\)/);
  t.is(redfish.state.limitWatts, 400);
});

test.serial('SIGTERM makes powerd release its name and exit 0', async (t) => {
  const { proc, client } = await startPowerd(t);
  const exited = new Promise<number | null>((resolve) => proc.child.once('exit', (code) => resolve(code)));
  proc.child.kill('SIGTERM');
  t.is(await exited, 0);
  const err = await t.throwsAsync(PowerdClient.connect({ bus: client, timeoutMs: 2000 }).then((c) => c.getState()));
  t.true(isVmanageError(err, 'UNAVAILABLE'), String(err));
});

test.serial('powerd exits 1 when its bus goes away, so that the service manager restarts it', async (t) => {
  const { bus, proc } = await startPowerd(t);
  const exited = new Promise<number | null>((resolve) => proc.child.once('exit', (code) => resolve(code)));
  await bus.stop();
  t.is(await exited, 1);
});

test.serial('powerd exits 1 when the bus cannot be reached at start', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'p.yaml');
  await writeFile(file, 'backend: sim\nreadingIntervalMs: 0\n');
  const err = await t.throwsAsync(run(process.execPath, ['--import', 'tsx', MAIN, '--config', file], { env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${dir}/no-bus.sock` } }));
  t.is((err as unknown as { code: number }).code, 1);
});

test.serial('powerd on the simulated backend serves readings from the power model and publishes them periodically', async (t) => {
  const { client, powerd } = await startPowerd(t, 'backend: sim\nsim: { model: hp-proliant-ml110-g4, utilisation: 1 }\nreadingIntervalMs: 50\n');
  const props = (await client.getProxyObject(POWER1_NAME, POWER1_PATH)).getInterface('org.freedesktop.DBus.Properties');
  const watts = new Promise((resolve) => props.on('PropertiesChanged', (_i: string, c: Record<string, { value: unknown }>) => { if (c.PowerWatts) resolve(c.PowerWatts.value); }));
  const r = await powerd.sensor.read();
  t.is(r.watts, 117);
  t.is(r.source, 'powerd:sim');
  await powerd.powerLimit('sim').setLimit(100);
  t.true((await powerd.sensor.read()).watts <= 100);
  t.is(typeof await watts, 'number');
});
