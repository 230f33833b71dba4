// The IPMI output parsers: table-driven examples of real tool output, and fast-check properties:
// any input either parses or throws BMC_PROTOCOL_ERROR (never another exception), and rendered
// well-formed output parses back to what was rendered.
import test from 'ava';
import fc from 'fast-check';
import { isAuthFailure, redactArgs } from '../../src/adapters/power/ipmi-exec.js';
import {
  decodeDcmiGetPowerLimit, parseChassisPower, parseFreeipmiPowerStatistics, parseIpmiRaw,
  parseIpmitoolPowerLimit, parseIpmitoolPowerReading,
} from '../../src/adapters/power/ipmi-parse.js';
import { parseIpmitoolSensorsCsv, parseSelCsv, parseSensorsCsv, selTimestamp } from '../../src/adapters/power/ipmi-sensors-parse.js';
import { isVmanageError } from '../../src/domain/errors.js';

const freeipmiStats = (w: number, state = 'Active'): string => `Current Power                        : ${w} Watts
Minimum Power over sampling duration : ${w} watts
Maximum Power over sampling duration : ${w} watts
Average Power over sampling duration : ${w} watts
Time Stamp                           : 11/25/2026 - 20:36:31
Statistics reporting time period     : 1000 milliseconds
Power Measurement                    : ${state}
`;

const ipmitoolReading = (w: number, state = 'activated'): string => `
    Instantaneous power reading:                   ${w} Watts
    Minimum during sampling period:                ${w} Watts
    Maximum during sampling period:                ${w} Watts
    Average power reading over sample period:      ${w} Watts
    IPMI timestamp:                           11/25/26 20:36:35 UTC    Sampling period:                          00000001 Seconds.
    Power reading state is:                   ${state}
`;

test('real tool output parses to the watts and measurement state it shows', (t) => {
  t.deepEqual(parseFreeipmiPowerStatistics(freeipmiStats(250)), { watts: 250, active: true });
  t.deepEqual(parseFreeipmiPowerStatistics(freeipmiStats(0, 'Not Available')), { watts: 0, active: false });
  t.deepEqual(parseIpmitoolPowerReading(ipmitoolReading(312)), { watts: 312, active: true });
  t.deepEqual(parseIpmitoolPowerLimit('    Current Limit State: No Active Power Limit\n    Exception actions:   No Action\n    Power Limit:         350 Watts\n'), { active: false, limitWatts: 350 });
  t.is(parseChassisPower('System Power                        : off\nPower overload                      : false\n'), 'off');
  t.is(parseChassisPower('Chassis Power is on\n'), 'on');
  t.deepEqual(parseIpmiRaw('rcvd: 03 80 DC 00 00 00 5E 01 E8 03 00 00 00 00 01 00 \n'), [3, 0x80, 0xdc, 0, 0, 0, 0x5e, 1, 0xe8, 3, 0, 0, 0, 0, 1, 0]);
  t.deepEqual(decodeDcmiGetPowerLimit([3, 0x80, 0xdc, 0, 0, 0, 0x5e, 1, 0xe8, 3, 0, 0, 0, 0, 1, 0]), { active: false, exceptionAction: 0, limitWatts: 350, correctionMs: 1000, samplingSeconds: 1 });
});

const bad: [string, () => unknown][] = [
  ['a reading with no watts field', () => parseFreeipmiPowerStatistics('Power Measurement : Active\n')],
  ['a reading of 70000 W (more than 16 bits)', () => parseFreeipmiPowerStatistics(freeipmiStats(70000))],
  ['a reading in kilowatts', () => parseFreeipmiPowerStatistics(freeipmiStats(250).replace('250 Watts', '0.25 kW'))],
  ['an unknown measurement state', () => parseIpmitoolPowerReading(ipmitoolReading(1, 'maybe'))],
  ['a Get Power Limit with a failing completion code', () => decodeDcmiGetPowerLimit([3, 0xc1, 0xdc])],
  ['a Get Power Limit for another group', () => decodeDcmiGetPowerLimit([3, 0, 0xdd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])],
  ['a short Get Power Limit', () => decodeDcmiGetPowerLimit([3, 0, 0xdc, 0])],
  ['raw output without rcvd line', () => parseIpmiRaw('ipmi-raw: whatever\n')],
  ['a raw byte that is not hex', () => parseIpmiRaw('rcvd: 03 0G\n')],
  ['a chassis state "standby"', () => parseChassisPower('System Power : standby\n')],
  ['a sensor line with too few fields', () => parseSensorsCsv('1,Temp,Temperature\n')],
  ['a sensor with a word for a reading', () => parseSensorsCsv('1,Temp,Temperature,Nominal,hot,C,\'OK\'\n')],
  ['an ipmitool sensor status "meh"', () => parseIpmitoolSensorsCsv('Inlet Temp,85.000,degrees C,meh,na,na,na,70.000,80.000,90.000\n')],
  ['a SEL line with an unknown state', () => parseSelCsv('1,Nov-25-2026,10:00:00,Temp,Temperature,Doomed,x\n')],
];
for (const [what, fn] of bad) {
  test(`${what} is a BMC_PROTOCOL_ERROR`, (t) => {
    const err = t.throws(fn);
    t.true(isVmanageError(err, 'BMC_PROTOCOL_ERROR'), String(err));
  });
}

test('sensor and SEL listings parse, with the event text keeping its commas', (t) => {
  const rows = parseSensorsCsv("2,Inlet Temp,Temperature,Critical,85.00,degrees C,'At or Above (>=) Upper Critical Threshold'\n3,System Power,Current,Nominal,252.00,Watts,'OK'\n4,Fan 1,Fan,N/A,N/A,RPM,N/A\n");
  t.deepEqual(rows.map((r) => [r.id, r.name, r.state, r.reading, r.units]), [[2, 'Inlet Temp', 'Critical', 85, 'degrees C'], [3, 'System Power', 'Nominal', 252, 'Watts'], [4, 'Fan 1', 'N/A', null, 'RPM']]);
  t.deepEqual(parseSensorsCsv("3,System Power,Current,252.00,Watts,'OK'\n", false).map((r) => [r.name, r.state, r.reading, r.units, r.event]), [['System Power', 'N/A', 252, 'Watts', "'OK'"]]);
  t.deepEqual(parseIpmitoolSensorsCsv('Inlet Temp,72.000,degrees C,Upper Non-Critical,na,na,na,70.000,80.000,90.000\nX,na,Watts,cr,na,na,na,1,2,3\nFan,0x01,discrete\n').map((r) => [r.name, r.state, r.reading]), [['Inlet Temp', 'Warning', 72], ['X', 'Critical', null]]);
  const sel = parseSelCsv('1,PostInit,PostInit,Inlet Temp,Memory,Warning,Correctable memory error\n4,Nov-25-2026,20:36:31,Inlet Temp,Temperature,Critical,Upper Critical - going high ; a, b\n');
  t.is(sel[0]?.timestamp, null);
  t.is(sel[1]?.timestamp, Date.UTC(2026, 10, 25, 20, 36, 31));
  t.is(sel[1]?.event, 'Upper Critical - going high ; a, b');
  t.is(selTimestamp('Foo-01-2026', '00:00:00'), null);
});

test('passwords never appear in the arguments shown in errors', (t) => {
  t.deepEqual(redactArgs(['-u', 'admin', '-p', 'secret', '-P', 'x', '--password=y', '-k', 'kg']), ['-u', 'admin', '-p', '***', '-P', '***', '--password=***', '-k', '***']);
  t.true(isAuthFailure('ipmi-dcmi: password invalid'));
  t.false(isAuthFailure('ipmi-dcmi: connection timeout'));
});

const parsers: [string, (s: string) => unknown][] = [
  ['ipmi-dcmi statistics', parseFreeipmiPowerStatistics],
  ['ipmitool reading', parseIpmitoolPowerReading],
  ['ipmitool limit', parseIpmitoolPowerLimit],
  ['chassis status', parseChassisPower],
  ['ipmi-raw', (s) => decodeDcmiGetPowerLimit(parseIpmiRaw(s))],
  ['ipmi-sensors CSV', (s) => parseSensorsCsv(s)],
  ['ipmi-sensors CSV without state', (s) => parseSensorsCsv(s, false)],
  ['ipmi-sel CSV', parseSelCsv],
  ['ipmitool sensor CSV', parseIpmitoolSensorsCsv],
];

const hostileText = fc.oneof(
  fc.string({ maxLength: 400 }),
  fc.array(fc.oneof(fc.constantFrom('Current Power : ', 'rcvd: ', 'Watts', ',', ':', '\n', 'N/A', 'Nominal', 'Chassis Power is ', 'System Power : ', 'on', '03', 'DC', '80', ' '), fc.string({ maxLength: 8 })), { maxLength: 60 }).map((a) => a.join('')),
);

for (const [name, parse] of parsers) {
  test(`the ${name} parser either parses hostile output or throws BMC_PROTOCOL_ERROR`, (t) => {
    fc.assert(fc.property(hostileText, (s) => {
      try {
        parse(s);
      } catch (err) {
        if (!isVmanageError(err, 'BMC_PROTOCOL_ERROR')) throw err;
      }
    }), { numRuns: 400 });
    t.pass();
  });
}

test('rendered DCMI readings and limits parse back to the same values', (t) => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 65535 }), fc.boolean(), (w, on) => {
    const f = parseFreeipmiPowerStatistics(freeipmiStats(w, on ? 'Active' : 'Not Available'));
    const i = parseIpmitoolPowerReading(ipmitoolReading(w, on ? 'activated' : 'deactivated'));
    const bytes = [3, on ? 0 : 0x80, 0xdc, 0, 0, 1, w & 0xff, w >> 8, 0x10, 0x27, 0, 0, 0, 0, 5, 0];
    const raw = parseIpmiRaw(`rcvd: ${bytes.map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(' ')} \n`);
    const l = decodeDcmiGetPowerLimit(raw);
    return f.watts === w && f.active === on && i.watts === w && i.active === on && l.limitWatts === w && l.active === on && l.correctionMs === 10000 && l.samplingSeconds === 5;
  }));
  t.pass();
});

test('rendered sensor rows parse back', (t) => {
  const name = fc.stringMatching(/^[A-Za-z0-9 _.-]{1,16}$/);
  fc.assert(fc.property(fc.array(fc.record({ id: fc.integer({ min: 0, max: 1e6 }), name, state: fc.constantFrom('Nominal', 'Warning', 'Critical'), reading: fc.integer({ min: -1000, max: 100000 }) }), { maxLength: 20 }), (rows) => {
    const out = parseSensorsCsv(rows.map((r) => `${r.id},${r.name},Current,${r.state},${r.reading}.00,Watts,'OK'`).join('\n'));
    return out.length === rows.length && out.every((o, i) => o.id === rows[i]?.id && o.name === rows[i]?.name.trim() && o.reading === rows[i]?.reading && o.state === rows[i]?.state);
  }));
  t.pass();
});
