import test from 'ava';
import fc from 'fast-check';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteJournal } from '../../src/adapters/store/journal.js';
import { migrate, openDatabase, schemaVersion, SCHEMA_VERSION } from '../../src/adapters/store/sqlite.js';
import type { Decision } from '../../src/domain/model.js';
import { isVmanageError } from '../../src/domain/errors.js';
import { tempDir } from '../support/proc.js';

const decision = (value: number): Decision => ({ kind: 'set-frequency-cap', target: 'h1', value, policy: 'budget', reason: { code: 'budget-exceeded', text: 'over by 12 W' }, predicted: { watts: 180, deltaWatts: -12 }, inputs: { watts: 192, budgetWatts: 185, stale: false } });

test('a new database file is in WAL mode at the newest schema version', async (t) => {
  const path = join(await tempDir(t), 'leader.db');
  const db = openDatabase(path);
  t.teardown(() => db.close());
  t.is(db.pragma('journal_mode', { simple: true }), 'wal');
  t.is(schemaVersion(db), SCHEMA_VERSION);
});

test('the journal keeps decisions with inputs, reason, predicted and observed effect across a reopen', async (t) => {
  const path = join(await tempDir(t), 'leader.db');
  const db = openDatabase(path);
  const j = new SqliteJournal(db);
  const a = j.append({ at: 1000, host: 'h1', decision: decision(2_000_000), outcome: 'applied', backend: 'ports' });
  j.append({ at: 2000, host: 'h1', decision: decision(2_400_000), outcome: 'refused', refusal: { code: 'dwell', message: 'too soon', retryAfterMs: 500 } });
  j.observe(a, { at: 2000, watts: 181, value: 2_000_000 });
  db.close();
  const again = openDatabase(path);
  t.teardown(() => again.close());
  const got = new SqliteJournal(again).recent(10);
  t.deepEqual(got.map((e) => e.id), [1, 2]);
  t.deepEqual(got[0], { id: 1, at: 1000, host: 'h1', decision: decision(2_000_000), outcome: 'applied', backend: 'ports', observed: { at: 2000, watts: 181, value: 2_000_000 } });
  t.deepEqual(got[1]?.refusal, { code: 'dwell', message: 'too soon', retryAfterMs: 500 });
  t.is(new SqliteJournal(again).recent(1)[0]?.id, 2);
});

test('retention keeps at most maxRows entries and drops the old ones', async (t) => {
  const db = openDatabase(join(await tempDir(t), 'leader.db'));
  t.teardown(() => db.close());
  const j = new SqliteJournal(db, { maxRows: 50, retentionMs: 10_000, pruneEvery: 10 });
  for (let i = 0; i < 200; i++) j.append({ at: i * 10, host: 'h1', decision: decision(i), outcome: 'applied' });
  const n = (db.prepare('SELECT COUNT(*) AS n FROM journal').get() as { n: number }).n;
  t.true(n <= 50, `${n} rows`);
  j.append({ at: 100_000, host: 'h1', decision: decision(0), outcome: 'applied' });
  j.prune();
  t.deepEqual(j.recent(100).map((e) => e.at), [100_000]);
});

test('observing an unknown or pruned entry does nothing', async (t) => {
  const db = openDatabase(join(await tempDir(t), 'leader.db'));
  t.teardown(() => db.close());
  const j = new SqliteJournal(db);
  j.observe(42, { at: 1 });
  t.deepEqual(j.recent(5), []);
});

test('schema steps run once each, in order, and a newer database is refused', async (t) => {
  const path = join(await tempDir(t), 'v.db');
  const db = new Database(path);
  t.teardown(() => db.close());
  const steps = ['CREATE TABLE a (x)', 'ALTER TABLE a ADD COLUMN y'];
  t.is(migrate(db, steps.slice(0, 1)), 1);
  t.is(migrate(db, steps), 2);
  t.is(migrate(db, steps), 2);
  t.deepEqual(db.prepare('SELECT name FROM pragma_table_info(\'a\')').all().map((r) => (r as { name: string }).name), ['x', 'y']);
  const err = t.throws(() => migrate(db, steps.slice(0, 1)));
  t.true(isVmanageError(err, 'UNSUPPORTED'));
});

test('a failing schema step leaves the previous version intact', async (t) => {
  const db = new Database(join(await tempDir(t), 'f.db'));
  t.teardown(() => db.close());
  migrate(db, ['CREATE TABLE a (x)']);
  const err = t.throws(() => migrate(db, ['CREATE TABLE a (x)', 'CREATE TABLE b (x); SYNTAX ERROR HERE']));
  t.true(isVmanageError(err, 'UNAVAILABLE'));
  t.regex(String(err?.message), /schema step 2/);
  t.is(schemaVersion(db), 1);
  t.deepEqual(db.prepare("SELECT name FROM sqlite_master WHERE name = 'b'").all(), []);
});

test('a path that cannot be opened gives UNAVAILABLE with the path', async (t) => {
  const dir = await tempDir(t);
  const err = t.throws(() => openDatabase(join(dir, 'missing', 'dir', 'x.db')));
  t.true(isVmanageError(err, 'UNAVAILABLE'));
  t.regex(String(err?.message), /missing/);
});

test('property: the SQLite journal behaves like the newest maxRows entries of an unbounded list', (t) => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.oneof(fc.constant(-1), fc.integer({ min: 1, max: 40 })), { maxLength: 60 }), (cap, ops) => {
    const db = openDatabase(':memory:');
    try {
      const j = new SqliteJournal(db, { maxRows: cap, retentionMs: Number.MAX_SAFE_INTEGER, pruneEvery: 1 });
      const model: { id: number; observed?: number }[] = [];
      for (const op of ops) {
        if (op === -1) model.push({ id: j.append({ at: 0, host: 'h', decision: decision(0), outcome: 'applied' }) });
        else {
          j.observe(op, { at: op });
          const m = model.slice(-cap).find((e) => e.id === op);
          if (m) m.observed = op;
        }
      }
      const want = model.slice(-cap);
      const got = j.recent(100);
      return got.length === want.length && got.every((e, i) => e.id === want[i]!.id && e.observed?.at === want[i]!.observed);
    } finally {
      db.close();
    }
  }), { numRuns: 200 });
  t.pass();
});
