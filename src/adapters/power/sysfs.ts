// Reading and writing sysfs attributes, with the kernel's errors translated into VmanageError at
// this boundary. The content of a sysfs file is untrusted input (a fake tree, a buggy driver): a
// value that does not parse is a clear INVALID_INPUT error naming the file and what was expected,
// counted in SysfsCounters, never a crash. Attributes are at most one page (4 KiB) long, so reads
// are bounded. Writes open the existing file without O_CREAT: a missing attribute is NOT_FOUND,
// never a new file.
import { closeSync, constants, openSync, readSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';

/** sysfs attributes are one page at most. */
const MAX_ATTR_BYTES = 4096;

/** Counters a caller can read or expose to prom-client. */
export interface SysfsCounters {
  reads: number;
  writes: number;
  /** Values that did not parse as what the attribute should hold. */
  malformed: number;
  /** Reads or writes the kernel refused (errno). */
  ioErrors: number;
}

export function newSysfsCounters(): SysfsCounters {
  return { reads: 0, writes: 0, malformed: 0, ioErrors: 0 };
}

/** Joins a configurable root ("/" on a real host) with an absolute sysfs path. */
export function sysPath(root: string, path: string): string {
  return join(root, path);
}

export function ioError(err: unknown, op: 'read' | 'write', path: string, counters?: SysfsCounters): VmanageError {
  if (counters) counters.ioErrors++;
  const errno = (err as NodeJS.ErrnoException | undefined)?.code ?? 'EIO';
  const code = errno === 'ENOENT' || errno === 'ENOTDIR' ? ErrorCodes.NotFound
    : errno === 'EACCES' || errno === 'EPERM' || errno === 'EROFS' ? ErrorCodes.PermissionDenied
      : errno === 'EINVAL' || errno === 'ERANGE' ? ErrorCodes.InvalidInput
        : ErrorCodes.Unavailable;
  return new VmanageError(code, `${op} ${path}: ${errno}`, { path, op, errno }, { cause: err });
}

/** The text of an attribute from the bytes read; a read that filled the page+1 buffer is refused. */
function attrText(path: string, buf: Buffer, bytesRead: number, counters?: SysfsCounters): string {
  if (counters) counters.reads++;
  if (bytesRead > MAX_ATTR_BYTES) {
    if (counters) counters.malformed++;
    throw new VmanageError(ErrorCodes.InvalidInput, `${path}: longer than ${MAX_ATTR_BYTES} bytes, not a sysfs attribute`, { path });
  }
  return buf.subarray(0, bytesRead).toString('utf8').trimEnd();
}

/** Reads an attribute and strips the trailing newline (and the trailing space lists carry). */
export async function readAttr(path: string, counters?: SysfsCounters): Promise<string> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY);
    const buf = Buffer.alloc(MAX_ATTR_BYTES + 1);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return attrText(path, buf, bytesRead, counters);
  } catch (err) {
    if (err instanceof VmanageError) throw err;
    throw ioError(err, 'read', path, counters);
  } finally {
    await fh?.close();
  }
}

/**
 * readAttr without libuv's thread pool (3 pool round trips per attribute): for hot paths that do
 * a handful of attribute reads in a row, e.g. powerd's frequency cap (src/daemons/powerd/cap-cpufreq.ts).
 */
export function readAttrSync(path: string, counters?: SysfsCounters): string {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY);
    const buf = Buffer.alloc(MAX_ATTR_BYTES + 1);
    return attrText(path, buf, readSync(fd, buf, 0, buf.length, 0), counters);
  } catch (err) {
    if (err instanceof VmanageError) throw err;
    throw ioError(err, 'read', path, counters);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export async function readOptionalAttr(path: string, counters?: SysfsCounters): Promise<string | undefined> {
  try {
    return await readAttr(path, counters);
  } catch (err) {
    if (err instanceof VmanageError && err.code === ErrorCodes.NotFound) return undefined;
    throw err;
  }
}

function malformed(path: string, expected: string, got: string, counters?: SysfsCounters): VmanageError {
  if (counters) counters.malformed++;
  const shown = got.length > 80 ? `${got.slice(0, 80)}...` : got;
  return new VmanageError(ErrorCodes.InvalidInput, `${path}: expected ${expected}, got ${JSON.stringify(shown)}`, { path, expected, got: shown });
}

/** An unsigned decimal integer that fits a double exactly (energy counters reach ~2^38). */
export function parseUint(path: string, text: string, counters?: SysfsCounters): number {
  if (!/^\d{1,16}$/.test(text)) throw malformed(path, 'an unsigned decimal integer', text, counters);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw malformed(path, 'an integer below 2^53', text, counters);
  return n;
}

export async function readUint(path: string, counters?: SysfsCounters): Promise<number> {
  return parseUint(path, await readAttr(path, counters), counters);
}

/** A whitespace-separated list of words such as "performance powersave ". */
export function parseWords(path: string, text: string, counters?: SysfsCounters): string[] {
  const words = text.split(/\s+/).filter((w) => w.length > 0);
  for (const w of words) if (!/^[A-Za-z0-9_.:<>-]{1,64}$/.test(w)) throw malformed(path, 'a list of names', text, counters);
  return words;
}

export function parseUintList(path: string, text: string, counters?: SysfsCounters): number[] {
  return text.split(/\s+/).filter((w) => w.length > 0).map((w) => parseUint(path, w, counters));
}

/** A single name such as a governor: one word. */
export function parseWord(path: string, text: string, counters?: SysfsCounters): string {
  const words = parseWords(path, text, counters);
  if (words.length !== 1) throw malformed(path, 'one name', text, counters);
  return words[0] as string;
}

/** Writes an existing attribute (no O_CREAT), value followed by a newline as `echo` would. */
export async function writeAttr(path: string, value: string | number, counters?: SysfsCounters): Promise<void> {
  let fh;
  try {
    fh = await open(path, constants.O_WRONLY | constants.O_TRUNC);
    await fh.write(`${value}\n`);
    if (counters) counters.writes++;
  } catch (err) {
    throw ioError(err, 'write', path, counters);
  } finally {
    await fh?.close();
  }
}

/** writeAttr without the thread pool (see readAttrSync). */
export function writeAttrSync(path: string, value: string | number, counters?: SysfsCounters): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_TRUNC);
    writeSync(fd, `${value}\n`);
    if (counters) counters.writes++;
  } catch (err) {
    throw ioError(err, 'write', path, counters);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
