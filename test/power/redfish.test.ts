// Redfish power readings and caps against a Redfish service the test starts (test/support/redfish.ts).
import test from 'ava';
import fc from 'fast-check';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { systemClock } from '../../src/adapters/clock.js';
import { RedfishClient } from '../../src/adapters/power/redfish-client.js';
import { RedfishPowerLimit, redfishPowerSensor } from '../../src/adapters/power/redfish-power.js';
import { isVmanageError } from '../../src/domain/errors.js';
import { tempDir, waitFor } from '../support/proc.js';
import { redfishCredentials, startRedfish, type RedfishMode, type RedfishServer } from '../support/redfish.js';

const run = promisify(execFile);

const chassisPath = '/redfish/v1/Chassis/1';

function clientFor(srv: RedfishServer, timeoutMs = 2000, password = redfishCredentials.password): RedfishClient {
  return new RedfishClient({ baseUrl: srv.url, username: redfishCredentials.username, password, timeoutMs });
}

for (const modern of [true, false]) {
  const kind = modern ? 'EnvironmentMetrics PowerWatts' : 'the older Power PowerControl';
  test(`a Redfish reading from ${kind} follows the BMC's watts`, async (t) => {
    const srv = await startRedfish(t, { watts: 321, modern });
    const sensor = redfishPowerSensor({ client: clientFor(srv), clock: systemClock, chassisPath });
    const r = await sensor.read();
    t.is(r.watts, 321);
    t.false(r.stale);
    srv.state.watts = 287;
    t.is((await sensor.read()).watts, 287);
  });

  test(`a Redfish cap through ${modern ? 'Control SetPoint' : 'PowerLimit LimitInWatts'} is set, read back and cleared`, async (t) => {
    const srv = await startRedfish(t, { modern });
    const cap = new RedfishPowerLimit({ client: clientFor(srv), clock: systemClock, chassisPath });
    t.is((await cap.state()).limitWatts, null);
    await cap.setLimit(450);
    t.is(srv.state.limitWatts, 450);
    t.is((await cap.state()).limitWatts, 450);
    await cap.clearLimit();
    t.is(srv.state.limitWatts, null);
  });
}

test('a Redfish cap above AllowableMax is refused by name before any PATCH', async (t) => {
  const srv = await startRedfish(t, { allowableMax: 600 });
  const cap = new RedfishPowerLimit({ client: clientFor(srv), clock: systemClock, chassisPath });
  const err = await t.throwsAsync(cap.setLimit(601));
  t.true(isVmanageError(err, 'OUT_OF_BOUNDS'));
  t.is(isVmanageError(err) ? err.details.limit : undefined, 'maxWatts');
  t.is(srv.state.limitWatts, null);
});

test('firmware that accepts a cap but does not apply it is caught by the read-back', async (t) => {
  const srv = await startRedfish(t, { ignoreCaps: true });
  const cap = new RedfishPowerLimit({ client: clientFor(srv), clock: systemClock, chassisPath });
  const err = await t.throwsAsync(cap.setLimit(400));
  t.true(isVmanageError(err, 'POWER_CAP_REJECTED'), String(err));
});

const hostile: [RedfishMode, string, string][] = [
  ['hang', 'never answers', 'TIMEOUT'],
  ['garbage', 'answers garbage', 'BMC_PROTOCOL_ERROR'],
  ['wrong-shape', 'answers JSON of the wrong shape', 'BMC_PROTOCOL_ERROR'],
];
for (const [mode, what, reason] of hostile) {
  test(`a Redfish BMC that ${what} gives POWER_SENSOR_UNAVAILABLE (${reason}) within the timeout`, async (t) => {
    const srv = await startRedfish(t);
    const sensor = redfishPowerSensor({ client: clientFor(srv, 500), clock: systemClock, chassisPath });
    // A first good reading (setup, not under test): retried, since on a loaded machine the
    // healthy service's first answer (with its session login) can miss the 500 ms deadline.
    await waitFor('a first good reading', () => sensor.read().then(() => true, () => false), 30_000, 50);
    srv.mode = mode;
    const started = Date.now();
    const err = await t.throwsAsync(sensor.read());
    t.true(Date.now() - started < 1500);
    t.true(isVmanageError(err, 'POWER_SENSOR_UNAVAILABLE'), String(err));
    t.is(isVmanageError(err) ? err.details.reason : undefined, reason);
    t.true(sensor.last()?.stale);
    t.is(sensor.last()?.watts, 250);
  });
}

test('a Redfish BMC that refuses the login gives BMC_AUTH_FAILED', async (t) => {
  const srv = await startRedfish(t);
  const client = clientFor(srv, 2000, 'wrong');
  const err = await t.throwsAsync(redfishPowerSensor({ client, clock: systemClock, chassisPath }).read());
  t.true(isVmanageError(err, 'BMC_AUTH_FAILED'), String(err));
  t.is(client.counters.authFailures, 1);
});

test('whatever JSON or text a hostile Redfish service serves, a reading is a plausible number or POWER_SENSOR_UNAVAILABLE', async (t) => {
  const srv = await startRedfish(t);
  const client = clientFor(srv, 1000);
  const bodies = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
    fc.record({ PowerWatts: fc.record({ Reading: fc.oneof(fc.double(), fc.string(), fc.constant(null), fc.integer()) }) }).map((v) => JSON.stringify(v)),
    fc.record({ '@odata.id': fc.constant(chassisPath), EnvironmentMetrics: fc.record({ '@odata.id': fc.oneof(fc.constant('/redfish/v1/Chassis/1/EnvironmentMetrics'), fc.string()) }) }).map((v) => JSON.stringify(v)),
  );
  await fc.assert(fc.asyncProperty(bodies, bodies, async (chassisBody, metricsBody) => {
    srv.mode = 'custom';
    srv.custom = (path) => (path === chassisPath ? chassisBody : metricsBody);
    const sensor = redfishPowerSensor({ client, clock: systemClock, chassisPath });
    try {
      const r = await sensor.read();
      return Number.isFinite(r.watts) && r.watts >= 0 && r.watts <= 100_000;
    } catch (err) {
      return isVmanageError(err, 'POWER_SENSOR_UNAVAILABLE');
    }
  }), { numRuns: 150 });
  t.true(client.counters.protocolErrors > 0);
});

test('a Redfish BMC that is not listening gives POWER_SENSOR_UNAVAILABLE (UNAVAILABLE)', async (t) => {
  const srv = await startRedfish(t);
  const client = new RedfishClient({ baseUrl: 'http://127.0.0.1:9', username: 'a', password: 'b', timeoutMs: 1000 });
  const err = await t.throwsAsync(redfishPowerSensor({ client, clock: systemClock, chassisPath }).read());
  t.true(isVmanageError(err, 'POWER_SENSOR_UNAVAILABLE'), String(err));
  t.is(isVmanageError(err) ? err.details.reason : undefined, 'UNAVAILABLE');
  t.is(srv.requests(), 0);
});

test('with Redfish sessions the client logs in once, logs in again after the BMC drops the session, and logs out on close', async (t) => {
  const srv = await startRedfish(t, { watts: 300 });
  const client = new RedfishClient({ baseUrl: srv.url, ...redfishCredentials, timeoutMs: 2000, auth: 'session' });
  const sensor = redfishPowerSensor({ client, clock: systemClock, chassisPath });
  t.is((await sensor.read()).watts, 300);
  t.is((await sensor.read()).watts, 300);
  t.is(srv.sessionsCreated(), 1);
  srv.expireSessions();
  t.is((await sensor.read()).watts, 300);
  t.is(srv.sessionsCreated(), 2);
  t.is(srv.openSessions(), 1);
  await client.close();
  t.is(srv.openSessions(), 0);
});

test('a Redfish session login with a wrong password is BMC_AUTH_FAILED', async (t) => {
  const srv = await startRedfish(t);
  const client = new RedfishClient({ baseUrl: srv.url, username: 'admin', password: 'wrong', timeoutMs: 2000, auth: 'session' });
  const err = await t.throwsAsync(redfishPowerSensor({ client, clock: systemClock, chassisPath }).read());
  t.true(isVmanageError(err, 'BMC_AUTH_FAILED'), String(err));
  t.is(srv.sessionsCreated(), 0);
});

async function selfSignedCert(t: Parameters<typeof startRedfish>[0]): Promise<{ key: string; cert: string; certPath: string }> {
  const dir = await tempDir(t);
  const [keyPath, certPath] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyPath, '-out', certPath,
    '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
  return { key: await readFile(keyPath, 'utf8'), cert: await readFile(certPath, 'utf8'), certPath };
}

test('over HTTPS a BMC certificate nobody vouched for is refused as UNAVAILABLE, and accepted once its CA is given to Node', async (t) => {
  const tls = await selfSignedCert(t);
  const srv = await startRedfish(t, { watts: 275 }, 'ok', tls);
  t.regex(srv.url, /^https:/);
  const err = await t.throwsAsync(redfishPowerSensor({ client: clientFor(srv), clock: systemClock, chassisPath }).read());
  t.true(isVmanageError(err, 'POWER_SENSOR_UNAVAILABLE'), String(err));
  t.is(isVmanageError(err) ? err.details.reason : undefined, 'UNAVAILABLE');
  t.is(srv.requests(), 0, 'nothing was sent over the untrusted connection');
  // NODE_EXTRA_CA_CERTS is read at process start: check the trusted case in a child Node.
  const script = join(await tempDir(t), 'read.mts');
  const here = dirname(fileURLToPath(import.meta.url));
  await writeFile(script, `
    import { RedfishClient } from ${JSON.stringify(join(here, '../../src/adapters/power/redfish-client.ts'))};
    import { redfishPowerSensor } from ${JSON.stringify(join(here, '../../src/adapters/power/redfish-power.ts'))};
    const client = new RedfishClient({ baseUrl: ${JSON.stringify(srv.url)}, username: 'admin', password: 'secret', timeoutMs: 5000, auth: 'session' });
    const r = await redfishPowerSensor({ client, clock: { now: () => Date.now(), setTimer: () => ({ cancel() {} }) }, chassisPath: '/redfish/v1/Chassis/1' }).read();
    await client.close();
    process.stdout.write(String(r.watts));
  `);
  const { stdout } = await run(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, NODE_EXTRA_CA_CERTS: tls.certPath }, timeout: 30_000, cwd: join(here, '../..') });
  t.is(stdout, '275');
});
