// Opens the leader's SQLite database (better-sqlite3 12, WAL) and brings its schema to the newest
// version. Schema versions live in PRAGMA user_version; each step runs in one transaction, so a
// crash mid-migration leaves the previous version intact. A database newer than this code is
// refused (UNSUPPORTED) rather than written with an older idea of the schema.
import Database from 'better-sqlite3';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';

export type Db = Database.Database;

/** Schema steps: index i takes the database from version i to i + 1. Append only. */
const STEPS: readonly string[] = [
  // 1: the broker journal and the leader tables.
  `CREATE TABLE journal (
     id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, host TEXT NOT NULL,
     kind TEXT NOT NULL, target TEXT NOT NULL, value REAL NOT NULL, policy TEXT NOT NULL,
     reason_code TEXT NOT NULL, reason_text TEXT NOT NULL, predicted TEXT NOT NULL, inputs TEXT NOT NULL,
     outcome TEXT NOT NULL, backend TEXT, refusal TEXT, observed TEXT);
   CREATE INDEX journal_at ON journal(at);
   CREATE TABLE hosts (
     id TEXT PRIMARY KEY, registration TEXT NOT NULL, state TEXT NOT NULL, state_since INTEGER NOT NULL,
     budget_watts REAL NOT NULL, reliability REAL NOT NULL, registered_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
   CREATE TABLE budgets (
     id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, host TEXT NOT NULL, watts REAL NOT NULL, reason TEXT NOT NULL);
   CREATE INDEX budgets_host_at ON budgets(host, at);
   CREATE TABLE decisions (
     id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, kind TEXT NOT NULL, target TEXT NOT NULL,
     value REAL NOT NULL, from_host TEXT, to_host TEXT, policy TEXT NOT NULL, reason_code TEXT NOT NULL,
     reason_text TEXT NOT NULL, predicted TEXT NOT NULL, inputs TEXT NOT NULL, fencing_token TEXT,
     outcome TEXT, actual TEXT, actual_at INTEGER);
   CREATE INDEX decisions_at ON decisions(at);
   CREATE INDEX decisions_target ON decisions(target, at);
   CREATE TABLE migrations (
     id INTEGER PRIMARY KEY AUTOINCREMENT, decision_id INTEGER, vm TEXT NOT NULL, from_host TEXT NOT NULL,
     to_host TEXT NOT NULL, memory_mib REAL NOT NULL, started_at INTEGER NOT NULL, ended_at INTEGER,
     status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'aborted')), error TEXT);
   CREATE INDEX migrations_vm ON migrations(vm, started_at);
   CREATE INDEX migrations_status ON migrations(status);`,
  // 2: the cluster budget set at runtime (LeaderStore.clusterBudget; before this step the leader
  // created the table itself, hence IF NOT EXISTS).
  'CREATE TABLE IF NOT EXISTS leader_cluster_budget (k INTEGER PRIMARY KEY CHECK (k = 1), watts REAL NOT NULL, at INTEGER NOT NULL);',
];

export const SCHEMA_VERSION = STEPS.length;

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

export function migrate(db: Db, steps: readonly string[] = STEPS): number {
  const from = schemaVersion(db);
  if (from > steps.length) {
    throw new VmanageError(ErrorCodes.Unsupported, `database ${db.name}: schema version ${from} is newer than this vmanage knows (${steps.length})`, { path: db.name, version: from, known: steps.length });
  }
  for (let v = from; v < steps.length; v++) {
    try {
      db.transaction(() => {
        db.exec(steps[v] as string);
        db.pragma(`user_version = ${v + 1}`);
      })();
    } catch (err) {
      throw new VmanageError(ErrorCodes.Unavailable, `database ${db.name}: schema step ${v + 1} failed: ${(err as Error).message}`, { path: db.name, step: v + 1 }, { cause: err });
    }
  }
  return steps.length;
}

/** Opens (creating if needed) the database at `path` (":memory:" for a private one) in WAL mode. */
export function openDatabase(path: string): Db {
  let db: Db;
  try {
    db = new Database(path);
  } catch (err) {
    throw new VmanageError(ErrorCodes.Unavailable, `database ${path}: cannot open: ${(err as Error).message}`, { path }, { cause: err });
  }
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 2000');
    db.pragma('foreign_keys = ON');
    migrate(db);
    return db;
  } catch (err) {
    db.close();
    if (err instanceof VmanageError) throw err;
    throw new VmanageError(ErrorCodes.Unavailable, `database ${path}: ${(err as Error).message}`, { path }, { cause: err });
  }
}
