import test from 'ava';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { readlink, stat } from 'node:fs/promises';
import { CpufreqActuator } from '../../src/adapters/power/cpufreq.js';
import { isVmanageError, VmanageError } from '../../src/domain/errors.js';
import { acpiCpufreqPolicies, intelPstatePolicies, makeFakeSysfs } from '../support/fakesysfs.js';

const P = 'sys/devices/system/cpu/cpufreq';

test('the fake tree is shaped like the kernel: cpuN/cpufreq links, newline-terminated values, read-only limits', async (t) => {
  const fake = await makeFakeSysfs(t, { policies: intelPstatePolicies(2) });
  t.is(await readlink(fake.path('sys/devices/system/cpu/cpu1/cpufreq')), '../cpufreq/policy1');
  t.is(await fake.read('sys/devices/system/cpu/cpu1/cpufreq/scaling_governor'), 'powersave\n');
  t.is(await fake.read(`${P}/policy0/energy_performance_available_preferences`), 'default performance balance_performance balance_power power \n');
  t.is((await stat(fake.path(`${P}/policy0/cpuinfo_max_freq`))).mode & 0o777, 0o444);
  t.is((await stat(fake.path(`${P}/policy0/scaling_max_freq`))).mode & 0o777, 0o644);
  // Without CAP_DAC_OVERRIDE even root cannot write a 0444 file, as with the kernel's sysfs.
  const err = t.throws(() => execFileSync('setpriv', ['--bounding-set=-dac_override', 'sh', '-c', `echo 1 > ${fake.path(`${P}/policy0/cpuinfo_max_freq`)}`], { stdio: 'pipe' }));
  t.regex(String((err as { stderr?: Buffer }).stderr), /Permission denied/);
});

test('an intel_pstate host reports per-CPU policies with EPP and no frequency table', async (t) => {
  const fake = await makeFakeSysfs(t, { policies: intelPstatePolicies(2) });
  const cpufreq = new CpufreqActuator({ root: fake.root });
  const [p0, p1] = await cpufreq.state();
  t.deepEqual(p0, {
    policy: 'policy0', cpus: [0], curKHz: 2_100_000, scalingMinKHz: 800_000, scalingMaxKHz: 3_900_000, governor: 'powersave', epp: 'balance_performance',
    limits: { minKHz: 800_000, maxKHz: 3_900_000, governors: ['performance', 'powersave'], epp: ['default', 'performance', 'balance_performance', 'balance_power', 'power'] },
  });
  t.is(p1?.policy, 'policy1');
  t.is(await cpufreq.driver(), 'intel_pstate');
});

test('an acpi-cpufreq host reports one shared policy with its available frequencies, lowest first', async (t) => {
  const fake = await makeFakeSysfs(t, { policies: acpiCpufreqPolicies(4) });
  const [p0, ...rest] = await new CpufreqActuator({ root: fake.root }).state();
  t.is(rest.length, 0);
  t.deepEqual(p0?.cpus, [0, 1, 2, 3]);
  t.deepEqual(p0?.limits.availableKHz, [1_200_000, 1_600_000, 2_000_000, 2_400_000]);
  t.is(p0?.epp, undefined);
});

test('a frequency cap is written to scaling_max_freq of every policy and cleared back to cpuinfo_max_freq', async (t) => {
  const fake = await makeFakeSysfs(t, { policies: intelPstatePolicies(3) });
  const cpufreq = new CpufreqActuator({ root: fake.root });
  await cpufreq.setMaxFrequency(2_000_000);
  for (const i of [0, 1, 2]) t.is(await fake.read(`${P}/policy${i}/scaling_max_freq`), '2000000\n');
  await cpufreq.clearMaxFrequency();
  t.is(await fake.read(`${P}/policy2/scaling_max_freq`), '3900000\n');
});

const refusals: [string, number, RegExp][] = [
  ['above cpuinfo_max_freq', 4_000_000, /4000000 kHz is above cpuinfo_max_freq \(3900000 kHz\) of policy0/],
  ['below cpuinfo_min_freq', 700_000, /below cpuinfo_min_freq \(800000 kHz\)/],
];
for (const [what, kHz, message] of refusals) {
  test(`a cap ${what} is refused naming the limit, and nothing is written`, async (t) => {
    const fake = await makeFakeSysfs(t, { policies: intelPstatePolicies(2) });
    const err = await t.throwsAsync(new CpufreqActuator({ root: fake.root }).setMaxFrequency(kHz));
    t.true(isVmanageError(err, 'OUT_OF_BOUNDS'));
    t.regex(err.message, message);
    t.is(await fake.read(`${P}/policy0/scaling_max_freq`), '3900000\n');
  });
}

test('a cap below scaling_min_freq is refused naming scaling_min_freq', async (t) => {
  const fake = await makeFakeSysfs(t, { policies: intelPstatePolicies(1) });
  await fake.set(`${P}/policy0/scaling_min_freq`, 1_500_000);
  await t.throwsAsync(new CpufreqActuator({ root: fake.root }).setMaxFrequency(1_000_000), { message: /scaling_min_freq \(1500000 kHz\)/ });
});

test('a governor must be one of scaling_available_governors', async (t) => {
  const fake = await makeFakeSysfs(t, { policies: acpiCpufreqPolicies(2) });
  const cpufreq = new CpufreqActuator({ root: fake.root });
  await cpufreq.setGovernor('schedutil');
  t.is(await fake.read(`${P}/policy0/scaling_governor`), 'schedutil\n');
  const err = await t.throwsAsync(cpufreq.setGovernor('turbo'));
  t.true(isVmanageError(err, 'INVALID_INPUT'));
  t.regex(err.message, /scaling_available_governors/);
});

test('EPP is set from the available preferences, refused while the performance governor runs, unsupported on acpi-cpufreq', async (t) => {
  const fake = await makeFakeSysfs(t, { policies: intelPstatePolicies(2) });
  const cpufreq = new CpufreqActuator({ root: fake.root });
  await cpufreq.setEpp('power');
  t.is(await fake.read(`${P}/policy1/energy_performance_preference`), 'power\n');
  await t.throwsAsync(cpufreq.setEpp('fastest'), { message: /energy_performance_available_preferences/ });
  await cpufreq.setGovernor('performance');
  const busy = await t.throwsAsync(cpufreq.setEpp('balance_power'));
  t.true(isVmanageError(busy, 'UNAVAILABLE'));
  const acpi = await makeFakeSysfs(t, { policies: acpiCpufreqPolicies(2) });
  const unsupported = await t.throwsAsync(new CpufreqActuator({ root: acpi.root }).setEpp('power'));
  t.true(isVmanageError(unsupported, 'UNSUPPORTED'));
});

test('a host without cpufreq gives a typed error naming the directory', async (t) => {
  const fake = await makeFakeSysfs(t, {});
  const err = await t.throwsAsync(new CpufreqActuator({ root: fake.root }).state());
  t.true(isVmanageError(err, 'NOT_FOUND'));
  t.regex(err.message, /cpufreq/);
});

test('garbage in any attribute gives an INVALID_INPUT error naming the file, is counted, and never crashes', async (t) => {
  const fake = await makeFakeSysfs(t, { policies: intelPstatePolicies(1) });
  const files = ['affected_cpus', 'cpuinfo_min_freq', 'cpuinfo_max_freq', 'scaling_cur_freq', 'scaling_max_freq', 'scaling_governor', 'scaling_available_governors', 'energy_performance_preference'];
  const cpufreq = new CpufreqActuator({ root: fake.root });
  await fc.assert(fc.asyncProperty(fc.constantFrom(...files), fc.string({ maxLength: 40 }), async (file, junk) => {
    const original = await fake.read(`${P}/policy0/${file}`);
    await fake.set(`${P}/policy0/${file}`, junk);
    try {
      await cpufreq.state();
    } catch (err) {
      if (!(err instanceof VmanageError)) throw err;
      if (err.code === 'INVALID_INPUT' && !err.message.includes(file)) throw new Error(`error does not name ${file}: ${err.message}`);
    } finally {
      await fake.set(`${P}/policy0/${file}`, original.trimEnd());
    }
  }), { numRuns: 60 });
  const before = cpufreq.counters.malformed;
  await fake.set(`${P}/policy0/cpuinfo_max_freq`, 'lots');
  await t.throwsAsync(cpufreq.state(), { message: /cpuinfo_max_freq: expected an unsigned decimal integer, got "lots"/ });
  t.is(cpufreq.counters.malformed, before + 1);
});
