import test from 'ava';
import type { HostRegistration } from '../../src/domain/cluster.js';
import { effectiveTrust, hostAttributesOf, registrationProblems } from '../../src/domain/leader/registration.js';
import { isVmanageError } from '../../src/domain/errors.js';

const good: HostRegistration = { id: 'host-1', cpus: 16, memoryMiB: 65_536, powerTableWatts: [86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117], capWatts: 117, trust: 'standard' };

const rows: { name: string; reg: unknown; problem: RegExp }[] = [
  { name: 'a registration with no CPUs is refused', reg: { ...good, cpus: 0 }, problem: /^cpus: expected a positive number/ },
  { name: 'a registration with a short power table is refused', reg: { ...good, powerTableWatts: [1, 2] }, problem: /^powerTableWatts: .*11 points/ },
  { name: 'a registration with a falling power table is refused', reg: { ...good, powerTableWatts: [86, 80, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117] }, problem: /^powerTableWatts: .*10 %/ },
  { name: 'an unknown trust level is refused', reg: { ...good, trust: 'root' }, problem: /^trust: expected one of/ },
  { name: 'a host id with a slash is refused', reg: { ...good, id: '../etc' }, problem: /^id: / },
  { name: 'a NaN memory size is refused', reg: { ...good, memoryMiB: Number.NaN }, problem: /^memoryMiB: / },
];

for (const row of rows) {
  test(row.name, (t) => {
    const problems = registrationProblems(row.reg as HostRegistration);
    t.true(problems.some((p) => row.problem.test(p)), problems.join('\n'));
    const err = t.throws(() => hostAttributesOf(row.reg as HostRegistration));
    t.true(isVmanageError(err, 'INVALID_INPUT'));
  });
}

test('a good registration gives the attributes with its power table as the model', (t) => {
  const a = hostAttributesOf(good);
  t.is(a.powerModel.idleWatts, 86);
  t.is(a.powerModel.watts(1), 117);
  t.is(a.cpus, 16);
});

test('every problem is reported at once', (t) => {
  t.is(registrationProblems({ ...good, cpus: -1, capWatts: 0, trust: 'x' as never }).length, 3);
});

const trustRows: { name: string; configured: HostRegistration['trust']; signals?: HostRegistration['signals']; want: HostRegistration['trust'] }[] = [
  { name: 'attested stays attested with Secure Boot on and a TPM', configured: 'attested', signals: { secureBoot: true, tpm: true }, want: 'attested' },
  { name: 'attested without a TPM is lowered to trusted', configured: 'attested', signals: { secureBoot: true, tpm: false }, want: 'trusted' },
  { name: 'attested without any signal is lowered to trusted', configured: 'attested', want: 'trusted' },
  { name: 'trusted with Secure Boot reported off is lowered to standard', configured: 'trusted', signals: { secureBoot: false }, want: 'standard' },
  { name: 'trusted without signals stays trusted', configured: 'trusted', want: 'trusted' },
  { name: 'signals never raise a configured level', configured: 'standard', signals: { secureBoot: true, tpm: true }, want: 'standard' },
];

for (const row of trustRows) {
  test(`trust: ${row.name}`, (t) => {
    t.is(effectiveTrust(row.configured, row.signals), row.want);
  });
}

test('the attributes carry the effective trust level', (t) => {
  t.is(hostAttributesOf({ ...good, trust: 'attested', signals: { secureBoot: false } }).trust, 'standard');
});
