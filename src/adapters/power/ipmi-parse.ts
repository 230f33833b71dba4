// Strict parsers for what FreeIPMI and ipmitool print. Pure functions of the tool's stdout: an
// answer that does not have the expected shape throws BMC_PROTOCOL_ERROR naming what was wrong,
// where (line / field) and what was expected. Never guesses a value out of garbage.
import { ErrorCodes, VmanageError } from '../../domain/errors.js';

const MAX_WATTS = 65_535; // DCMI carries watts in 16 bits

export function protocolError(tool: string, what: string, where: string, expected: string, got?: string): VmanageError {
  const shown = got === undefined ? '' : `; got ${JSON.stringify(got.length > 120 ? `${got.slice(0, 120)}...` : got)}`;
  return new VmanageError(ErrorCodes.BmcProtocolError, `${tool}: ${what} at ${where}: expected ${expected}${shown}`, { tool, what, where, expected });
}

/** "Key   : value" lines (FreeIPMI) or "Key: value" lines (ipmitool) into a map; first key wins. */
export function keyValues(stdout: string, sep = ':'): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of stdout.split('\n')) {
    const i = raw.indexOf(sep);
    if (i <= 0) continue;
    const key = raw.slice(0, i).trim().toLowerCase();
    if (key && !out.has(key)) out.set(key, raw.slice(i + 1).trim());
  }
  return out;
}

function requireKey(tool: string, kv: Map<string, string>, key: string, expected: string): string {
  const v = kv.get(key.toLowerCase());
  if (v === undefined) throw protocolError(tool, 'missing field', `"${key}"`, expected);
  return v;
}

function wattsField(tool: string, value: string, key: string): number {
  const m = /^(\d{1,5}) watts$/i.exec(value);
  const w = m ? Number(m[1]) : NaN;
  if (!(w >= 0 && w <= MAX_WATTS)) throw protocolError(tool, 'bad watts value', `"${key}"`, `"<0..${MAX_WATTS}> Watts"`, value);
  return w;
}

export interface DcmiPowerStats { readonly watts: number; readonly active: boolean }

/** ipmi-dcmi --get-system-power-statistics. */
export function parseFreeipmiPowerStatistics(stdout: string): DcmiPowerStats {
  const kv = keyValues(stdout);
  const watts = wattsField('ipmi-dcmi', requireKey('ipmi-dcmi', kv, 'Current Power', 'a power reading'), 'Current Power');
  const state = requireKey('ipmi-dcmi', kv, 'Power Measurement', '"Active" or "Not Available"');
  if (state !== 'Active' && state !== 'Not Available') throw protocolError('ipmi-dcmi', 'bad state', '"Power Measurement"', '"Active" or "Not Available"', state);
  return { watts, active: state === 'Active' };
}

/** ipmitool dcmi power reading. */
export function parseIpmitoolPowerReading(stdout: string): DcmiPowerStats {
  const kv = keyValues(stdout);
  const watts = wattsField('ipmitool', requireKey('ipmitool', kv, 'Instantaneous power reading', 'a power reading'), 'Instantaneous power reading');
  const state = requireKey('ipmitool', kv, 'Power reading state is', '"activated" or "deactivated"');
  if (state !== 'activated' && state !== 'deactivated') throw protocolError('ipmitool', 'bad state', '"Power reading state is"', '"activated" or "deactivated"', state);
  return { watts, active: state === 'activated' };
}

/** ipmi-raw prints "rcvd: 03 00 DC ..." (command, completion code, data), hex bytes. */
export function parseIpmiRaw(stdout: string): number[] {
  const line = stdout.split('\n').find((l) => l.startsWith('rcvd:'));
  if (line === undefined) throw protocolError('ipmi-raw', 'missing response', 'stdout', 'a "rcvd: XX XX ..." line', stdout.slice(0, 120));
  const toks = line.slice(5).trim().split(/\s+/).filter(Boolean);
  if (toks.length < 2 || toks.length > 300) throw protocolError('ipmi-raw', 'bad response length', 'rcvd line', '2..300 bytes', line);
  return toks.map((t, i) => {
    if (!/^[0-9a-f]{2}$/i.test(t)) throw protocolError('ipmi-raw', 'bad byte', `byte ${i}`, 'two hex digits', t);
    return parseInt(t, 16);
  });
}

export interface DcmiLimit {
  readonly active: boolean;
  readonly limitWatts: number;
  readonly correctionMs: number;
  readonly exceptionAction: number;
  readonly samplingSeconds: number;
}

const le16 = (b: number[], i: number): number => (b[i] ?? 0) | ((b[i + 1] ?? 0) << 8);

/**
 * Decodes a DCMI Get Power Limit response (cmd 0x03) as bytes [cmd, cc, 0xDC, rsv, rsv, action,
 * limit(2), correction ms(4), rsv(2), sampling s(2)]. Completion code 0x80 means "no active limit"
 * (the data still describes the configured limit); any other non-zero code is an error.
 */
export function decodeDcmiGetPowerLimit(bytes: number[]): DcmiLimit {
  const [cmd, cc, group] = bytes;
  if (cmd !== 0x03) throw protocolError('dcmi', 'wrong command in response', 'byte 0', '0x03', String(cmd));
  if (cc !== 0x00 && cc !== 0x80) throw protocolError('dcmi', 'completion code', 'byte 1', '0x00 or 0x80', `0x${(cc ?? 0).toString(16)}`);
  if (group !== 0xdc) throw protocolError('dcmi', 'wrong group extension', 'byte 2', '0xdc', String(group));
  if (bytes.length < 16) throw protocolError('dcmi', 'short response', 'Get Power Limit', '16 bytes', String(bytes.length));
  return {
    active: cc === 0x00,
    exceptionAction: bytes[5] ?? 0,
    limitWatts: le16(bytes, 6),
    correctionMs: (le16(bytes, 8) + le16(bytes, 10) * 65536),
    samplingSeconds: le16(bytes, 14),
  };
}

/** ipmitool dcmi power get_limit. */
export function parseIpmitoolPowerLimit(stdout: string): { active: boolean; limitWatts: number } {
  const kv = keyValues(stdout);
  const state = requireKey('ipmitool', kv, 'Current Limit State', '"Power Limit Active" or "No Active Power Limit"');
  if (state !== 'Power Limit Active' && state !== 'No Active Power Limit') {
    throw protocolError('ipmitool', 'bad limit state', '"Current Limit State"', '"Power Limit Active" or "No Active Power Limit"', state);
  }
  return { active: state === 'Power Limit Active', limitWatts: wattsField('ipmitool', requireKey('ipmitool', kv, 'Power Limit', 'a limit'), 'Power Limit') };
}

export type ChassisPower = 'on' | 'off';

/** ipmi-chassis --get-status ("System Power : on") or ipmitool chassis power status ("Chassis Power is on"). */
export function parseChassisPower(stdout: string): ChassisPower {
  const free = keyValues(stdout).get('system power');
  const tool = /^Chassis Power is (on|off)\s*$/m.exec(stdout)?.[1];
  const v = free ?? tool;
  if (v !== 'on' && v !== 'off') throw protocolError('chassis', 'missing power state', '"System Power" / "Chassis Power is"', '"on" or "off"', v ?? stdout.slice(0, 80));
  return v;
}
