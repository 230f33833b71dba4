// The control-loop benchmark's per-sample split (bench/lib/control-loop-hops.ts): the issue's
// measure (report reached the MVM -> powerd wrote the cap) taken from daemon marks, per sample.
import test from 'ava';
import { HopCollector, reportArrivedToCapWritten, type SampleWindow } from '../../bench/lib/control-loop-hops.js';

/** A collector holding these marks (process name from the hop's prefix). */
function marks(list: [string, number][]): HopCollector {
  const c = new HopCollector();
  for (const [hop, at] of list) c.marks.push({ proc: hop.startsWith('powerd') ? 'vmanage-powerd.mjs:2' : 'vmanage-mvm.cjs:1', hop, at, extra: [] });
  return c;
}

const PATH: [string, number][] = [
  ['mvm.report:violated', 100.4], ['mvm.decision:set-frequency-cap', 100.5], ['client.cap-call', 100.52],
  ['mvm.out:SetFrequencyCap', 100.7], ['powerd.in:SetFrequencyCap', 100.9], ['powerd.enter', 100.92],
  ['powerd.authorised', 100.95], ['powerd.sysfs-done', 101.2], ['powerd.return', 101.3],
];

const window = (send: number, end = Number.POSITIVE_INFINITY): SampleWindow => ({ send, end, observed: send + 2 });

test('the measure runs from the report reaching the MVM to powerd having written the cap', (t) => {
  const got = reportArrivedToCapWritten(marks(PATH), [window(100)]);
  t.is(got.length, 1);
  t.is(Math.round((got[0] as number) * 100) / 100, 0.8);
});

const cases: { name: string; list: [string, number][]; expect: number[] }[] = [
  {
    name: 'the MVM was preempted after its write and marked it after powerd had written the cap: still one sample',
    list: PATH.map(([h, at]): [string, number] => [h, h === 'mvm.out:SetFrequencyCap' ? 104 : at]),
    expect: [0.8],
  },
  { name: 'no sysfs-done mark: the sample is left out, not counted as 0', list: PATH.filter(([h]) => h !== 'powerd.sysfs-done'), expect: [] },
  { name: 'the previous sample\'s write (before the report) is not taken', list: [['powerd.sysfs-done', 99.5], ...PATH], expect: [0.8] },
];

for (const c of cases) {
  test(`the measure per sample: ${c.name}`, (t) => {
    const got = reportArrivedToCapWritten(marks(c.list), [window(100)]);
    t.deepEqual(got.map((x) => Math.round(x * 100) / 100), c.expect);
  });
}

test('each sample takes only the marks of its own window, and the result is sorted', (t) => {
  const second = PATH.map(([h, at]): [string, number] => [h, at + 100 + (h === 'powerd.sysfs-done' ? 3 : 0)]);
  const got = reportArrivedToCapWritten(marks([...second, ...PATH]), [window(100, 150), window(200)]);
  t.deepEqual(got.map((x) => Math.round(x * 100) / 100), [0.8, 3.8]);
});
