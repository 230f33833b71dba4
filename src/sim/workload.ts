// Workload loaders: per-VM CPU utilisation series (percent of the VM's capacity per interval).
//
// Accepted inputs (all validated strictly; errors say `file:line: problem`):
// 1. A trace CSV (the PlanetLab day files and the documented generic format, docs/simulator.md):
//    header `vm,u0,u1,...,u{N-1}` (N >= 2), then one row per VM: a name (optionally
//    double-quoted, "" escapes a quote) and N numbers in [0, 100] (decimals allowed).
// 2. A directory in CloudSim's format: one file per VM (the file name is the VM name), one
//    integer percent per line (0..100), every file the same number of lines (288 for a day).
//    Files are taken sorted by name, like CloudSim's examples.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { VmanageError, ErrorCodes } from '../domain/errors.js';

export interface Workload {
  /** Where it came from (file or directory path). */
  readonly source: string;
  readonly vmNames: readonly string[];
  /** utilisation[vm][interval] as a fraction 0..1 of the VM's CPU capacity. */
  readonly utilisation: readonly Float64Array[];
  readonly intervals: number;
}

/** Upper bounds keep hostile inputs from growing memory without limit. */
export const WORKLOAD_LIMITS = { maxVms: 100_000, maxIntervals: 100_000, maxFileBytes: 512 * 1024 * 1024 } as const;

function bad(file: string, line: number, problem: string): VmanageError {
  return new VmanageError(ErrorCodes.InvalidInput, `${file}:${line}: ${problem}`, { file, line, problem });
}

/** Splits one CSV line; a field may be double-quoted ("" inside is a quote). */
export function splitCsvLine(text: string, file: string, lineNo: number): string[] {
  const out: string[] = [];
  let i = 0;
  while (i <= text.length) {
    if (text[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) throw bad(file, lineNo, 'unterminated quoted field');
        value += text.slice(i, q);
        if (text[q + 1] === '"') { value += '"'; i = q + 2; continue; }
        i = q + 1;
        break;
      }
      if (i < text.length && text[i] !== ',') throw bad(file, lineNo, `expected ',' after a quoted field at column ${i + 1}`);
      out.push(value);
      i++;
    } else {
      const c = text.indexOf(',', i);
      const end = c < 0 ? text.length : c;
      out.push(text.slice(i, end));
      i = end + 1;
    }
  }
  return out;
}

const NUMBER = /^\d+(\.\d+)?$/;

function percent(field: string, file: string, lineNo: number, what: string): number {
  const f = field.trim();
  if (!NUMBER.test(f)) throw bad(file, lineNo, `${what}: expected a number 0..100, got '${f.slice(0, 20)}'`);
  const v = Number(f);
  if (v > 100) throw bad(file, lineNo, `${what}: expected a number 0..100, got ${f}`);
  return v / 100;
}

function readBounded(path: string): string {
  const size = statSync(path).size;
  if (size > WORKLOAD_LIMITS.maxFileBytes) throw bad(path, 0, `file too large (${size} bytes, limit ${WORKLOAD_LIMITS.maxFileBytes})`);
  return readFileSync(path, 'utf8');
}

/** Parses trace-CSV text (format 1). `file` names it in errors. */
export function parseTraceCsv(text: string, file: string): Workload {
  const lines = text.split(/\r?\n/);
  const header = splitCsvLine(lines[0] ?? '', file, 1);
  if (header[0] !== 'vm') throw bad(file, 1, `header must start with 'vm', got '${(header[0] ?? '').slice(0, 20)}'`);
  const n = header.length - 1;
  if (n < 2) throw bad(file, 1, `header needs at least 2 interval columns (u0,u1,...), got ${n}`);
  if (n > WORKLOAD_LIMITS.maxIntervals) throw bad(file, 1, `too many intervals (${n}, limit ${WORKLOAD_LIMITS.maxIntervals})`);
  header.slice(1).forEach((h, k) => {
    if (h !== `u${k}`) throw bad(file, 1, `column ${k + 2} must be 'u${k}', got '${h.slice(0, 20)}'`);
  });
  const names: string[] = [];
  const series: Float64Array[] = [];
  const seen = new Set<string>();
  for (let li = 1; li < lines.length; li++) {
    const line = lines[li] as string;
    if (line.trim() === '') continue;
    const lineNo = li + 1;
    if (names.length >= WORKLOAD_LIMITS.maxVms) throw bad(file, lineNo, `too many VMs (limit ${WORKLOAD_LIMITS.maxVms})`);
    const fields = splitCsvLine(line, file, lineNo);
    if (fields.length !== n + 1) throw bad(file, lineNo, `expected ${n + 1} fields (name + ${n} intervals), got ${fields.length}`);
    const name = fields[0] as string;
    if (name === '') throw bad(file, lineNo, 'empty VM name');
    if (seen.has(name)) throw bad(file, lineNo, `duplicate VM name '${name.slice(0, 40)}'`);
    seen.add(name);
    const u = new Float64Array(n);
    for (let k = 0; k < n; k++) u[k] = percent(fields[k + 1] as string, file, lineNo, `u${k}`);
    names.push(name);
    series.push(u);
  }
  if (names.length === 0) throw bad(file, 2, 'no VM rows');
  return { source: file, vmNames: names, utilisation: series, intervals: n };
}

/** Parses one CloudSim per-VM file (format 2). */
export function parseCloudsimVmFile(text: string, file: string): Float64Array {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && (lines[lines.length - 1] as string).trim() === '') lines.pop();
  if (lines.length < 2) throw bad(file, 1, `expected at least 2 lines of integer percent, got ${lines.length}`);
  if (lines.length > WORKLOAD_LIMITS.maxIntervals) throw bad(file, WORKLOAD_LIMITS.maxIntervals + 1, 'too many lines');
  const u = new Float64Array(lines.length);
  lines.forEach((l, i) => {
    const f = l.trim();
    if (!/^\d+$/.test(f) || Number(f) > 100) throw bad(file, i + 1, `expected an integer percent 0..100, got '${f.slice(0, 20)}'`);
    u[i] = Number(f) / 100;
  });
  return u;
}

/** Reads a directory of CloudSim per-VM files, sorted by name. */
export function loadCloudsimDir(dir: string): Workload {
  const files = readdirSync(dir).filter((f) => !f.startsWith('.') && statSync(join(dir, f)).isFile()).sort();
  if (files.length === 0) throw bad(dir, 0, 'no VM files in the directory');
  if (files.length > WORKLOAD_LIMITS.maxVms) throw bad(dir, 0, `too many VM files (${files.length}, limit ${WORKLOAD_LIMITS.maxVms})`);
  const series = files.map((f) => parseCloudsimVmFile(readBounded(join(dir, f)), join(dir, f)));
  const n = (series[0] as Float64Array).length;
  series.forEach((s, i) => {
    if (s.length !== n) throw bad(join(dir, files[i] as string), s.length, `has ${s.length} lines, the first file has ${n}`);
  });
  return { source: dir, vmNames: files.map((f) => basename(f)), utilisation: series, intervals: n };
}

/** Loads a trace CSV file or a CloudSim directory. */
export function loadWorkload(path: string): Workload {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw new VmanageError(ErrorCodes.NotFound, `workload ${path}: cannot read (${(err as Error).message})`, { path }, { cause: err });
  }
  return st.isDirectory() ? loadCloudsimDir(path) : parseTraceCsv(readBounded(path), path);
}
