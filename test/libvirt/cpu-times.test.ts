// GetAllDomainStats records -> CPU time by domain name (src/adapters/libvirt/stats.ts parseCpuTimes).
// The records come from libvirt-dbus; a bad shape is left out and counted, never thrown.
import test from 'ava';
import dbus from 'dbus-next';
import fc from 'fast-check';
import { parseCpuTimes } from '../../src/adapters/libvirt/stats.js';

const v = (sig: string, value: unknown): InstanceType<typeof dbus.Variant> => new dbus.Variant(sig, value);

const cases: { name: string; records: unknown; expect: Record<string, number | undefined>; malformed: number }[] = [
  { name: 'cpu.time as a 64-bit integer', records: [['a', { 'state.state': v('i', 1), 'cpu.time': v('t', 123_456_789n) }]], expect: { a: 123_456_789 }, malformed: 0 },
  { name: 'a driver without CPU accounting', records: [['test', { 'state.state': v('i', 1) }]], expect: { test: undefined }, malformed: 0 },
  { name: 'several VMs', records: [['a', { 'cpu.time': v('t', 1n) }], ['b', { 'cpu.time': v('t', 2n) }]], expect: { a: 1, b: 2 }, malformed: 0 },
  { name: 'a name twice keeps the first', records: [['a', { 'cpu.time': v('t', 1n) }], ['a', { 'cpu.time': v('t', 9n) }]], expect: { a: 1 }, malformed: 1 },
  { name: 'records of the wrong shape', records: [['', {}], [7, {}], ['x'], 'y', null, ['z', null]], expect: {}, malformed: 6 },
  { name: 'a negative or non-numeric cpu.time is no CPU time', records: [['a', { 'cpu.time': v('x', -5) }], ['b', { 'cpu.time': v('s', 'lots') }]], expect: { a: undefined, b: undefined }, malformed: 0 },
  { name: 'not an array at all', records: { a: 1 }, expect: {}, malformed: 1 },
];

for (const c of cases) {
  test(`CPU times from GetAllDomainStats: ${c.name}`, (t) => {
    const { byName, malformed } = parseCpuTimes(c.records, 1000);
    t.deepEqual(Object.fromEntries([...byName].map(([k, x]) => [k, x.cpuTimeNs])), c.expect);
    t.true([...byName.values()].every((x) => x.timestamp === 1000));
    t.is(malformed, c.malformed);
  });
}

test('any value libvirt-dbus could hand back is parsed without throwing, every record counted once', (t) => {
  const leaf = fc.oneof(fc.string(), fc.integer(), fc.bigInt(), fc.constant(null), fc.double());
  const rec = fc.oneof(fc.tuple(fc.string(), fc.dictionary(fc.string(), leaf)), fc.array(leaf), leaf);
  fc.assert(fc.property(fc.array(rec, { maxLength: 20 }), (records) => {
    const { byName, malformed } = parseCpuTimes(records, 0);
    t.is(byName.size + malformed, records.length);
    for (const x of byName.values()) t.true(x.cpuTimeNs === undefined || (Number.isFinite(x.cpuTimeNs) && x.cpuTimeNs >= 0));
  }));
});
