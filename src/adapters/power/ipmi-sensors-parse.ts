// Parses FreeIPMI's sensor and SEL listings in their machine-readable form:
//   ipmi-sensors --no-header-output --comma-separated-output --output-sensor-state --non-abbreviated-units
//     ID,Name,Type,State,Reading,Units,Event
//   ipmi-sel --no-header-output --comma-separated-output --output-event-state --non-abbreviated-units
//     ID,Date,Time,Name,Type,State,Event
// The event text is last and may itself contain commas: everything after the sixth comma is it.
// A line with too few fields, a non-numeric ID, or an unknown state throws BMC_PROTOCOL_ERROR.
import { protocolError } from './ipmi-parse.js';

export type SensorState = 'Nominal' | 'Warning' | 'Critical' | 'N/A';
const STATES = new Set<string>(['Nominal', 'Warning', 'Critical', 'N/A']);

export interface SensorRow {
  readonly id: number;
  readonly name: string;
  readonly type: string;
  readonly state: SensorState;
  /** Null when the BMC reports no reading (N/A). Units as printed, e.g. "Watts", "degrees C". */
  readonly reading: number | null;
  readonly units: string;
  readonly event: string;
}

export interface SelRow {
  readonly id: number;
  /** ms since epoch, or null when the BMC had no time yet ("PostInit", "N/A"). UTC assumed. */
  readonly timestamp: number | null;
  readonly name: string;
  readonly type: string;
  readonly state: SensorState;
  readonly event: string;
}

const MAX_LINES = 10_000;

function split7(tool: string, line: string, lineNo: number): string[] {
  const parts = line.split(',');
  if (parts.length < 7) throw protocolError(tool, 'too few fields', `line ${lineNo}`, '7 comma-separated fields', line);
  return [...parts.slice(0, 6).map((p) => p.trim()), parts.slice(6).join(',').trim()];
}

function idField(tool: string, v: string, lineNo: number): number {
  if (!/^\d{1,9}$/.test(v)) throw protocolError(tool, 'bad record ID', `line ${lineNo}`, 'a decimal ID', v);
  return Number(v);
}

function stateField(tool: string, v: string, lineNo: number): SensorState {
  if (!STATES.has(v)) throw protocolError(tool, 'bad state', `line ${lineNo}`, 'Nominal, Warning, Critical or N/A', v);
  return v as SensorState;
}

function lines(tool: string, stdout: string): string[] {
  const ls = stdout.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '');
  if (ls.length > MAX_LINES) throw protocolError(tool, 'too many lines', 'stdout', `at most ${MAX_LINES}`, String(ls.length));
  return ls;
}

/**
 * withState false: the listing was made without --output-sensor-state (ID,Name,Type,Reading,
 * Units,Event), which is cheaper (FreeIPMI then skips its state interpretation config); state is
 * then 'N/A'.
 */
export function parseSensorsCsv(stdout: string, withState = true): SensorRow[] {
  return lines('ipmi-sensors', stdout).map((line, i) => {
    const fields = split7('ipmi-sensors', withState ? line : line.replace(/^([^,]*,[^,]*,[^,]*,)/, '$1N/A,'), i + 1);
    const [id, name, type, state, reading, units, event] = fields as [string, string, string, string, string, string, string];
    let value: number | null = null;
    if (reading !== 'N/A') {
      if (!/^-?\d+(\.\d+)?$/.test(reading)) throw protocolError('ipmi-sensors', 'bad reading', `line ${i + 1}`, 'a decimal number or N/A', reading);
      value = Number(reading);
    }
    return { id: idField('ipmi-sensors', id, i + 1), name, type, state: stateField('ipmi-sensors', state, i + 1), reading: value, units, event };
  });
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** FreeIPMI prints SEL times as "Nov-25-2026" and "20:36:31"; the BMC clock is taken as UTC. */
export function selTimestamp(date: string, time: string): number | null {
  const d = /^([A-Z][a-z]{2})-(\d{2})-(\d{4})$/.exec(date);
  const t = /^(\d{2}):(\d{2}):(\d{2})$/.exec(time);
  if (!d || !t) return null;
  const month = MONTHS.indexOf(d[1] as string);
  if (month < 0) return null;
  const ms = Date.UTC(Number(d[3]), month, Number(d[2]), Number(t[1]), Number(t[2]), Number(t[3]));
  return Number.isFinite(ms) ? ms : null;
}

export function parseSelCsv(stdout: string): SelRow[] {
  return lines('ipmi-sel', stdout).map((line, i) => {
    const [id, date, time, name, type, state, event] = split7('ipmi-sel', line, i + 1) as [string, string, string, string, string, string, string];
    return { id: idField('ipmi-sel', id, i + 1), timestamp: selTimestamp(date, time), name, type, state: stateField('ipmi-sel', state, i + 1), event };
  });
}

// ipmitool's threshold status column: ok, nc (non-critical), cr (critical), nr (non-recoverable),
// ns / na (no reading); lnc/unc etc. on some versions; with -v it spells them out
// ("Upper Non-Critical", "Lower Critical", "Upper Non-Recoverable", ...). Matched lower-cased.
const IPMITOOL_STATES: Record<string, SensorState> = {
  ok: 'Nominal', nc: 'Warning', lnc: 'Warning', unc: 'Warning',
  cr: 'Critical', lcr: 'Critical', ucr: 'Critical', nr: 'Critical', lnr: 'Critical', unr: 'Critical',
  ns: 'N/A', na: 'N/A',
  'upper non-critical': 'Warning', 'lower non-critical': 'Warning',
  'upper critical': 'Critical', 'lower critical': 'Critical',
  'upper non-recoverable': 'Critical', 'lower non-recoverable': 'Critical',
};

/**
 * ipmitool -c sensor: Name,Reading,Units,Status,LNR,LC,LNC,UNC,UC,UNR (threshold sensors). Rows
 * with another shape (discrete sensors print fewer fields) are skipped; rows are numbered by
 * position since ipmitool prints no record ID.
 */
export function parseIpmitoolSensorsCsv(stdout: string): SensorRow[] {
  const out: SensorRow[] = [];
  for (const [i, line] of lines('ipmitool', stdout).entries()) {
    const f = line.split(',').map((x) => x.trim());
    if (f.length !== 10) continue;
    const [name, reading, units, status] = f as [string, string, string, string];
    const state = Object.hasOwn(IPMITOOL_STATES, status.toLowerCase()) ? IPMITOOL_STATES[status.toLowerCase()] : undefined;
    if (state === undefined) throw protocolError('ipmitool', 'bad sensor status', `line ${i + 1}`, 'ok, nc, cr, nr, ns, na or their long forms', status);
    let value: number | null = null;
    if (reading !== 'na') {
      if (!/^-?\d+(\.\d+)?$/.test(reading)) throw protocolError('ipmitool', 'bad reading', `line ${i + 1}`, 'a decimal number or na', reading);
      value = Number(reading);
    }
    out.push({ id: i + 1, name, type: '', state, reading: value, units, event: status });
  }
  return out;
}
