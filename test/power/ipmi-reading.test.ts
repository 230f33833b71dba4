// The PowerSensor contract every BMC sensor shares (MemoizedSensor), on a manual clock.
import test from 'ava';
import { MemoizedSensor } from '../../src/adapters/power/ipmi-reading.js';
import { ManualClock } from '../../src/domain/clock.js';
import { VmanageError, isVmanageError } from '../../src/domain/errors.js';

function scripted(clock: ManualClock, answers: (number | Error)[]): MemoizedSensor {
  return new MemoizedSensor('test:bmc', clock, async () => {
    const a = answers.shift();
    if (a === undefined || a instanceof Error) throw a ?? new Error('no more answers');
    return a;
  });
}

test('a fresh reading has age 0, and after a failure last() is that reading, stale, with its true age', async (t) => {
  const clock = new ManualClock(1_000_000);
  const s = scripted(clock, [230, new VmanageError('TIMEOUT', 'no answer')]);
  t.is(s.last(), undefined);
  t.deepEqual(await s.read(), { watts: 230, timestamp: 1_000_000, source: 'test:bmc', ageMs: 0, stale: false });
  clock.advance(4_500);
  const err = await t.throwsAsync(s.read());
  t.true(isVmanageError(err, 'POWER_SENSOR_UNAVAILABLE'));
  t.is(isVmanageError(err) ? err.details.reason : undefined, 'TIMEOUT');
  t.deepEqual(s.last(), { watts: 230, timestamp: 1_000_000, source: 'test:bmc', ageMs: 4_500, stale: true });
  clock.advance(500);
  t.is(s.last()?.ageMs, 5_000);
  t.deepEqual(s.counters, { reads: 2, failures: 1 });
});

test('a refused login is passed through as BMC_AUTH_FAILED, and a non-VmanageError is wrapped with reason UNKNOWN', async (t) => {
  const clock = new ManualClock(0);
  const s = scripted(clock, [new VmanageError('BMC_AUTH_FAILED', 'refused'), new TypeError('boom')]);
  t.true(isVmanageError(await t.throwsAsync(s.read()), 'BMC_AUTH_FAILED'));
  const err = await t.throwsAsync(s.read());
  t.true(isVmanageError(err, 'POWER_SENSOR_UNAVAILABLE'));
  t.is(isVmanageError(err) ? err.details.reason : undefined, 'UNKNOWN');
});
