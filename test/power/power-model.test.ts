import test from 'ava';
import fc from 'fast-check';
import { isVmanageError } from '../../src/domain/errors.js';
import { dvfsModel, SPECPOWER_TABLES, specPowerModel, tableLaw, tableModel, voltageFloorLaw } from '../../src/domain/power-model.js';

const g4 = tableModel(SPECPOWER_TABLES['hp-proliant-ml110-g4']);

const points: [number, number][] = [[0, 86], [0.1, 89.4], [0.5, 102], [1, 117], [0.05, 87.7], [0.95, 115.5], [0.33, 96 + 0.3 * 3.5]];
for (const [u, w] of points) {
  test(`the ML110 G4 table model gives ${w} W at ${u * 100} % utilisation`, (t) => {
    t.true(Math.abs(g4.watts(u) - w) < 1e-9, `${g4.watts(u)}`);
  });
}

test('utilisation outside 0..1 is clamped, and a non-number is refused by name', (t) => {
  t.is(g4.watts(-0.5), 86);
  t.is(g4.watts(7), 117);
  const err = t.throws(() => g4.watts(Number.NaN));
  t.true(isVmanageError(err, 'INVALID_INPUT'));
  t.regex(err.message, /utilisation/);
});

const badTables: [string, number[], RegExp][] = [
  ['ten points', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], /11 points/],
  ['a falling point', [1, 2, 3, 4, 5, 4, 7, 8, 9, 10, 11], /point 50 %/],
  ['a negative point', [-1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], /point 0 %/],
];
for (const [what, watts, message] of badTables) {
  test(`a power table with ${what} is refused, saying where`, (t) => {
    const err = t.throws(() => tableModel({ name: 'bad', watts }));
    t.regex(err.message, message);
  });
}

test('the DVFS model at full frequency is exactly the table model', (t) => {
  const m = specPowerModel('hp-proliant-ml110-g5', {});
  const base = specPowerModel('hp-proliant-ml110-g5');
  for (let u = 0; u <= 1; u += 0.05) t.is(m.watts(u, 1), base.watts(u));
});

test('the DVFS model keeps idle power at any frequency and scales only the dynamic part', (t) => {
  const m = dvfsModel(g4, { vFloor: 0.6 });
  t.is(m.watts(0, 0.5), 86);
  const r = 0.5;
  const v = 0.6 + 0.4 * r;
  t.true(Math.abs(m.watts(1, r) - (86 + (117 - 86) * r * v * v)) < 1e-9);
});

test('the voltage-floor law is cubic with no floor and linear with a full floor', (t) => {
  t.is(voltageFloorLaw(0)(0.5), 0.125);
  t.is(voltageFloorLaw(1)(0.5), 0.5);
  t.throws(() => voltageFloorLaw(1.5));
});

test('a measured frequency law is interpolated and must end at (1, 1)', (t) => {
  const f = tableLaw([[0.5, 0.3], [0.75, 0.6], [1, 1]]);
  t.is(f(1), 1);
  t.true(Math.abs(f(0.625) - 0.45) < 1e-12);
  t.true(Math.abs(f(0.25) - 0.15) < 1e-12);
  t.throws(() => tableLaw([[0.5, 0.3], [0.9, 0.9]]), { message: /last point/ });
  t.throws(() => tableLaw([[0.5, 0.3], [0.4, 0.4], [1, 1]]), { message: /strictly increasing/ });
});

test('DVFS power never falls with utilisation or frequency, and stays within idle..peak', (t) => {
  const m = dvfsModel(g4);
  fc.assert(fc.property(
    fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }),
    fc.double({ min: 0.01, max: 1, noNaN: true }), fc.double({ min: 0.01, max: 1, noNaN: true }),
    (u1, u2, r1, r2) => {
      const [ua, ub] = u1 <= u2 ? [u1, u2] : [u2, u1];
      const [ra, rb] = r1 <= r2 ? [r1, r2] : [r2, r1];
      const w = m.watts(ua, ra);
      return w <= m.watts(ub, ra) + 1e-9 && w <= m.watts(ua, rb) + 1e-9 && w >= 86 - 1e-9 && m.watts(ub, rb) <= 117 + 1e-9;
    },
  ));
  t.pass();
});

test('a frequency ratio outside (0, 1] is refused by name', (t) => {
  const m = dvfsModel(g4);
  for (const r of [0, -1, 1.5, Number.NaN]) t.throws(() => m.watts(0.5, r), { message: /frequency ratio/ });
});
