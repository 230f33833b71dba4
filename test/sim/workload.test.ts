import test from 'ava';
import fc from 'fast-check';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isVmanageError } from '../../src/domain/errors.js';
import { loadWorkload, parseCloudsimVmFile, parseTraceCsv } from '../../src/sim/workload.js';
import { tempDir } from '../support/proc.js';

test('a trace CSV with quoted names is read as fractions of each VM', (t) => {
  const w = parseTraceCsv('vm,u0,u1,u2\n"a, b",0,50,100\nc,1.5,2,3\n', 'x.csv');
  t.deepEqual(w.vmNames, ['a, b', 'c']);
  t.is(w.intervals, 3);
  t.deepEqual([...(w.utilisation[0] ?? [])], [0, 0.5, 1]);
  t.is(w.utilisation[1]?.[0], 0.015);
});

const BAD: readonly [string, string, RegExp][] = [
  ['a header that does not start with vm', 'name,u0,u1\na,1,2\n', /x\.csv:1: header must start with 'vm'/],
  ['a misnamed interval column', 'vm,u0,u2\na,1,2\n', /x\.csv:1: column 3 must be 'u1'/],
  ['a row with a missing value', 'vm,u0,u1\na,1\n', /x\.csv:2: expected 3 fields/],
  ['a value above 100', 'vm,u0,u1\na,1,101\n', /x\.csv:2: u1: expected a number 0\.\.100/],
  ['a negative value', 'vm,u0,u1\na,-1,5\n', /x\.csv:2: u0: expected a number/],
  ['a duplicate VM', 'vm,u0,u1\na,1,2\nb,1,1\na,3,3\n', /x\.csv:4: duplicate VM name 'a'/],
  ['an unterminated quote', 'vm,u0,u1\n"a,1,2\n', /x\.csv:2: unterminated quoted field/],
  ['no rows', 'vm,u0,u1\n', /x\.csv:2: no VM rows/],
];

for (const [what, text, message] of BAD) {
  test(`a trace CSV with ${what} is refused with file:line`, (t) => {
    const err = t.throws(() => parseTraceCsv(text, 'x.csv'));
    t.true(isVmanageError(err, 'INVALID_INPUT'));
    t.regex(err?.message ?? '', message);
  });
}

test('a CloudSim per-VM file refuses a non-integer line with its line number', (t) => {
  t.throws(() => parseCloudsimVmFile('1\n2\n3.5\n', 'vm1'), { message: /vm1:3: expected an integer percent/ });
  t.deepEqual([...parseCloudsimVmFile('10\n20\n\n', 'vm1')], [0.1, 0.2]);
});

test('a directory of CloudSim files is read sorted by name and must have equal lengths', async (t) => {
  const dir = await tempDir(t);
  const d = join(dir, 'day');
  mkdirSync(d);
  writeFileSync(join(d, 'b'), '1\n2\n');
  writeFileSync(join(d, 'a'), '3\n4\n');
  const w = loadWorkload(d);
  t.deepEqual(w.vmNames, ['a', 'b']);
  t.is(w.utilisation[0]?.[1], 0.04);
  writeFileSync(join(d, 'c'), '1\n2\n3\n');
  t.throws(() => loadWorkload(d), { message: /c:3: has 3 lines, the first file has 2/ });
});

test('random text never crashes the CSV parser: it parses or gives a coded error', (t) => {
  fc.assert(fc.property(fc.string({ maxLength: 200 }), (body) => {
    try {
      parseTraceCsv(`vm,u0,u1\n${body}`, 'f.csv');
    } catch (err) {
      if (!isVmanageError(err, 'INVALID_INPUT')) throw err;
      if (!/^f\.csv:\d+: /.test(err.message)) throw new Error(`message without file:line: ${err.message}`);
    }
  }), { numRuns: 500 });
  t.pass();
});
