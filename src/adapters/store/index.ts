export { openDatabase, migrate, schemaVersion, SCHEMA_VERSION, type Db } from './sqlite.js';
export { SqliteJournal, defaultRetention, type RetentionOptions } from './journal.js';
export { LeaderStore, type HostRecord, type StoredDecision, type MigrationRecord, type MigrationStatus } from './leader-store.js';
