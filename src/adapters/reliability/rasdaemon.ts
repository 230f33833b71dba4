// rasdaemon's SQLite database (/var/lib/rasdaemon/ras-mc_ctl.db), read-only. Tables used, with
// rasdaemon's own schema (ras-record.c):
//   mc_event (id INTEGER PRIMARY KEY, timestamp TEXT, err_count INTEGER, err_type TEXT,
//             err_msg TEXT, label TEXT, mc INTEGER, top_layer INTEGER, middle_layer INTEGER,
//             lower_layer INTEGER, address INTEGER, grain INTEGER, syndrome INTEGER,
//             driver_detail TEXT)                    err_type: Corrected / Uncorrected / Fatal / ...
//   aer_event (id INTEGER PRIMARY KEY, timestamp TEXT, err_type TEXT, err_msg TEXT)   (if present)
//             err_type: Corrected / Uncorrected (Non-Fatal) / Uncorrected (Fatal)
// timestamp is "YYYY-MM-DD HH:MM:SS +ZZZZ". Rows are read after a cursor (the last id seen), at
// most `batch` per poll, so a huge database cannot flood memory. A missing database means
// rasdaemon is not installed: available=false, no error.
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import type { ReliabilityEvent, ReliabilityEventKind } from '../../domain/reliability.js';

export const DEFAULT_RASDAEMON_DB = '/var/lib/rasdaemon/ras-mc_ctl.db';

/** Parses rasdaemon's "2026-11-25 20:36:31 +0000" (or without the zone: UTC). */
export function parseRasTimestamp(s: unknown): number | undefined {
  if (typeof s !== 'string') return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?: ([+-])(\d{2})(\d{2}))?$/.exec(s.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, se, sign, zh, zm] = m;
  const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(se));
  const offsetMin = sign ? (sign === '-' ? -1 : 1) * (Number(zh) * 60 + Number(zm)) : 0;
  return Number.isFinite(utc) ? utc - offsetMin * 60_000 : undefined;
}

function memoryKind(errType: unknown): ReliabilityEventKind | undefined {
  if (typeof errType !== 'string') return undefined;
  if (/^corrected$/i.test(errType)) return 'memory-ce';
  if (/^(uncorrected|fatal)$/i.test(errType)) return 'memory-ue';
  return undefined; // Info, Deferred, unknown: not counted
}

function pcieKind(errType: unknown): ReliabilityEventKind | undefined {
  if (typeof errType !== 'string') return undefined;
  if (/^corrected$/i.test(errType)) return 'pcie-ce';
  if (/^uncorrected/i.test(errType)) return 'pcie-ue';
  return undefined;
}

interface Row { id: number; timestamp: unknown; err_type: unknown; err_count?: unknown }

/** On the first poll only the newest `batch` rows are history worth reading (older ones have decayed). */
function startCursor(db: Database.Database, table: 'mc_event' | 'aer_event', batch: number): number {
  const max = (db.prepare(`SELECT MAX(id) AS max FROM ${table}`).get() as { max: number | null }).max;
  return max === null ? -1 : Math.max(-1, max - batch);
}

export class RasdaemonReader {
  /** Rows skipped because a field was malformed. */
  malformedRows = 0;
  private cursors = { mc: -1, aer: -1 };

  constructor(private readonly path = DEFAULT_RASDAEMON_DB, private readonly batch = 10_000) {}

  /**
   * New events since the last poll. The first poll reads the newest `batch` rows of history too
   * (rows carry their own time, so the model decays them correctly).
   */
  poll(nowMs: number): { available: boolean; events: ReliabilityEvent[] } {
    if (!existsSync(this.path)) return { available: false, events: [] };
    try {
      return this.read(nowMs);
    } catch (err) {
      // Not a database, locked past busy_timeout, or tables without rasdaemon's columns.
      throw new VmanageError(ErrorCodes.InvalidInput, `rasdaemon database ${this.path} is unreadable: ${(err as Error).message}`, { path: this.path, expected: "rasdaemon's mc_event / aer_event schema" }, { cause: err });
    }
  }

  private read(nowMs: number): { available: boolean; events: ReliabilityEvent[] } {
    const db = new Database(this.path, { readonly: true, fileMustExist: true });
    try {
      db.pragma('busy_timeout = 200');
      const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
      const events: ReliabilityEvent[] = [];
      if (this.cursors.mc < 0 && tables.has('mc_event')) this.cursors.mc = startCursor(db, 'mc_event', this.batch);
      if (this.cursors.aer < 0 && tables.has('aer_event')) this.cursors.aer = startCursor(db, 'aer_event', this.batch);
      if (tables.has('mc_event')) {
        const rows = db.prepare('SELECT id, timestamp, err_type, err_count FROM mc_event WHERE id > ? ORDER BY id LIMIT ?').all(this.cursors.mc, this.batch) as Row[];
        for (const r of rows) this.push(events, r, memoryKind(r.err_type), r.err_count, nowMs, 'rasdaemon:mc_event');
        this.cursors.mc = rows.at(-1)?.id ?? this.cursors.mc;
      }
      if (tables.has('aer_event')) {
        const rows = db.prepare('SELECT id, timestamp, err_type FROM aer_event WHERE id > ? ORDER BY id LIMIT ?').all(this.cursors.aer, this.batch) as Row[];
        for (const r of rows) this.push(events, r, pcieKind(r.err_type), 1, nowMs, 'rasdaemon:aer_event');
        this.cursors.aer = rows.at(-1)?.id ?? this.cursors.aer;
      }
      return { available: true, events };
    } finally {
      db.close();
    }
  }

  private push(out: ReliabilityEvent[], r: Row, kind: ReliabilityEventKind | undefined, count: unknown, nowMs: number, source: string): void {
    const at = parseRasTimestamp(r.timestamp);
    const n = typeof count === 'number' && Number.isInteger(count) && count >= 0 ? count : undefined;
    if (at === undefined || n === undefined || typeof r.err_type !== 'string') {
      this.malformedRows++;
      return;
    }
    if (kind) out.push({ kind, at: Math.min(at, nowMs), count: n, source });
  }
}
