// powerd's short cap path (src/daemons/powerd/cap-cpufreq.ts) against a kernel-shaped fake sysfs,
// checked against the generic CpufreqActuator it stands in for; and the caller cache of
// CallerAuthoriser on a real private bus, invalidated when a caller's connection leaves.
import test from 'ava';
import fc from 'fast-check';
import dbus from 'dbus-next';
import { rm, symlink } from 'node:fs/promises';
import { CpufreqActuator } from '../../src/adapters/power/cpufreq.js';
import { disconnectBus } from '../../src/adapters/power/powerd-client-protocol.js';
import { isVmanageError } from '../../src/domain/errors.js';
import { CallerAuthoriser } from '../../src/daemons/powerd/auth.js';
import { PowerdCpufreq } from '../../src/daemons/powerd/cap-cpufreq.js';
import { startPrivateBus } from '../support/dbus.js';
import { acpiCpufreqPolicies, intelPstatePolicies, makeFakeSysfs } from '../support/fakesysfs.js';
import { waitFor } from '../support/proc.js';

const POLICY = (n: number): string => `sys/devices/system/cpu/cpufreq/policy${n}`;

/** The outcome of a request as comparable data: "ok" or the error's code and limit. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (!isVmanageError(err)) throw err;
    return `${err.code} ${String(err.details.limit ?? '')}`;
  }
}

for (const [name, policies] of [['intel_pstate', intelPstatePolicies(4)], ['acpi-cpufreq', acpiCpufreqPolicies(2)]] as const) {
  test(`a cap on ${name} is written to every policy and cleared back to cpuinfo_max_freq`, async (t) => {
    const fake = await makeFakeSysfs(t, { policies: [...policies] });
    const cpufreq = new PowerdCpufreq({ root: fake.root });
    const max = Math.min(...(await cpufreq.state()).map((p) => p.limits.maxKHz));
    const cap = max - 500_000;
    await cpufreq.setMaxFrequency(cap);
    t.deepEqual((await cpufreq.state()).map((p) => p.scalingMaxKHz), policies.map(() => cap));
    await cpufreq.clearMaxFrequency();
    t.deepEqual((await cpufreq.state()).map((p) => p.scalingMaxKHz), (await cpufreq.state()).map((p) => p.limits.maxKHz));
    t.is(cpufreq.counters.malformed, 0);
  });
}

test('the short path accepts and refuses exactly what the generic actuator does, by the same limit', async (t) => {
  const fakeA = await makeFakeSysfs(t, { policies: intelPstatePolicies(2) });
  const fakeB = await makeFakeSysfs(t, { policies: intelPstatePolicies(2) });
  const generic = new CpufreqActuator({ root: fakeA.root });
  const fast = new PowerdCpufreq({ root: fakeB.root });
  const [p0] = await generic.state();
  const { minKHz, maxKHz } = p0!.limits;
  await fc.assert(fc.asyncProperty(
    fc.oneof(fc.integer({ min: minKHz - 200_000, max: maxKHz + 200_000 }), fc.constantFrom(0, -1, 1.5, Number.NaN, minKHz, maxKHz)),
    fc.integer({ min: minKHz, max: maxKHz }),
    async (kHz, scalingMin) => {
      for (const fake of [fakeA, fakeB]) await fake.set(`${POLICY(1)}/scaling_min_freq`, scalingMin);
      const [a, b] = [await outcome(generic.setMaxFrequency(kHz)), await outcome(fast.setMaxFrequency(kHz))];
      t.is(b, a, `cap ${kHz} kHz with scaling_min_freq ${scalingMin}`);
      t.is(await fakeB.read(`${POLICY(1)}/scaling_max_freq`), await fakeA.read(`${POLICY(1)}/scaling_max_freq`));
    },
  ), { numRuns: 60 });
});

test('a write the kernel does not show is refused as POWER_CAP_REJECTED after every policy was tried', async (t) => {
  const fake = await makeFakeSysfs(t, { policies: intelPstatePolicies(3) });
  await rm(fake.path(`${POLICY(1)}/scaling_max_freq`));
  await symlink('/dev/null', fake.path(`${POLICY(1)}/scaling_max_freq`)); // accepts writes, reads back ""
  const cpufreq = new PowerdCpufreq({ root: fake.root });
  const err = await t.throwsAsync(cpufreq.setMaxFrequency(2_000_000));
  t.true(isVmanageError(err, 'POWER_CAP_REJECTED'), String(err));
  t.regex(err!.message, /policy1\/scaling_max_freq: wrote 2000000/);
  t.is((await fake.read(`${POLICY(2)}/scaling_max_freq`)).trim(), '2000000'); // the others settled before the answer
});

test('a caller is looked up on the bus once, then answered from the cache until its connection leaves', async (t) => {
  const bus = await startPrivateBus(t, 'system');
  const daemon = dbus.sessionBus({ busAddress: bus.address });
  daemon.on('error', () => undefined);
  t.teardown(() => disconnectBus(daemon));
  const auth = new CallerAuthoriser(daemon, [process.getuid!()], []);
  await auth.watch();
  const caller = dbus.sessionBus({ busAddress: bus.address });
  caller.on('error', () => undefined);
  const name = await waitFor('the caller to get its unique name', () => (caller as unknown as { name: string | null }).name);
  t.is((await auth.authorise(name)).uid, process.getuid!());
  await auth.authorise(name);
  t.deepEqual(auth.counters, { cacheHits: 1, lookups: 1, invalidated: 0 });
  await disconnectBus(caller);
  await waitFor('the cache entry to be dropped', () => auth.counters.invalidated === 1 || undefined, 5000, 10);
  t.is(auth.cached, 0);
  const err = await t.throwsAsync(auth.authorise(name)); // the bus no longer knows the name
  t.truthy(err);
  t.is(auth.cached, 0);
});
