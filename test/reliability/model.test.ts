// The pure host reliability model: decayed error hazard -> score in (0, 1].
import test from 'ava';
import fc from 'fast-check';
import {
  ReliabilityEventKinds, ReliabilityModel, counterDelta, defaultReliabilityParams, type ReliabilityEvent,
} from '../../src/domain/reliability.js';

const HOUR = 3_600_000;
const NOW = 1_700_000_000_000;
const ev = (kind: ReliabilityEvent['kind'], hoursAgo: number, count = 1): ReliabilityEvent => ({ kind, at: NOW - hoursAgo * HOUR, count, source: 'test' });

const cases: [string, ReliabilityEvent[], { warning: number; critical: number }, number][] = [
  ['a host with no errors scores 1', [], { warning: 0, critical: 0 }, 1],
  ['one uncorrected memory error just now halves the score', [ev('memory-ue', 0)], { warning: 0, critical: 0 }, 0.5],
  ['a hundred corrected errors just now weigh as much as one uncorrected', [ev('memory-ce', 0, 100)], { warning: 0, critical: 0 }, 0.5],
  ['a hundred corrected errors one half-life (a day) ago weigh half', [ev('memory-ce', 24, 100)], { warning: 0, critical: 0 }, 100 / 150],
  ['an uncorrected error a week ago weighs half', [ev('memory-ue', 24 * 7)], { warning: 0, critical: 0 }, 100 / 150],
  ['two sensors past a critical threshold now count like one uncorrected error', [], { warning: 0, critical: 2 }, 0.5],
  ['a critical SEL event and a warning sensor add up', [ev('sel-critical', 0)], { warning: 2, critical: 0 }, 100 / 160],
];

for (const [name, events, thresholds, expected] of cases) {
  test(name, (t) => {
    const m = new ReliabilityModel();
    for (const e of events) t.true(m.observe(e, NOW));
    m.setThresholds(thresholds);
    const s = m.score(NOW);
    t.true(Math.abs(s.score - expected) < 1e-9, `score ${s.score}, expected ${expected}`);
  });
}

test('the score names its largest contributors', (t) => {
  const m = new ReliabilityModel();
  m.observe(ev('memory-ue', 0), NOW);
  m.observe(ev('memory-ce', 0, 10), NOW);
  t.deepEqual(m.score(NOW).reasons, ['memory-ue 100.0', 'memory-ce 10.0']);
});

test('events that arrive out of order give the same score as in order', (t) => {
  const events = [ev('memory-ce', 30, 7), ev('memory-ce', 2, 3), ev('memory-ce', 10, 5)];
  const a = new ReliabilityModel();
  const b = new ReliabilityModel();
  for (const e of events) a.observe(e, NOW);
  for (const e of [...events].sort((x, y) => x.at - y.at)) b.observe(e, NOW);
  t.true(Math.abs(a.score(NOW).hazard - b.score(NOW).hazard) < 1e-9);
});

const malformed: [string, ReliabilityEvent][] = [
  ['a negative count', { ...ev('memory-ce', 0), count: -1 }],
  ['a fractional count', { ...ev('memory-ce', 0), count: 1.5 }],
  ['an absurd count', { ...ev('memory-ce', 0), count: 1e12 }],
  ['a time that is not a number', { ...ev('memory-ce', 0), at: NaN }],
  ['an unknown kind', { ...ev('memory-ce', 0), kind: 'cosmic-ray' as ReliabilityEvent['kind'] }],
];
for (const [what, e] of malformed) {
  test(`an event with ${what} is refused and counted, and changes nothing`, (t) => {
    const m = new ReliabilityModel();
    t.false(m.observe(e, NOW));
    t.is(m.rejected, 1);
    t.is(m.score(NOW).score, 1);
  });
}

test('an event stamped in the future counts as now, not as more than now', (t) => {
  const m = new ReliabilityModel();
  m.observe(ev('memory-ue', -48), NOW);
  t.is(m.score(NOW).score, 0.5);
});

const counterCases: [number | undefined, number, number][] = [[undefined, 500, 0], [10, 10, 0], [10, 17, 7], [100, 3, 3]];
for (const [prev, cur, delta] of counterCases) {
  test(`a counter going from ${String(prev)} to ${cur} means ${delta} new errors`, (t) => {
    t.is(counterDelta(prev, cur), delta);
  });
}

const arbEvent = fc.record({
  kind: fc.constantFrom(...ReliabilityEventKinds),
  hoursAgo: fc.double({ min: 0, max: 24 * 60, noNaN: true }),
  count: fc.integer({ min: 0, max: 10_000 }),
});

test('the score stays in (0, 1], more errors never raise it, and time passing never lowers it', (t) => {
  fc.assert(fc.property(fc.array(arbEvent, { maxLength: 40 }), arbEvent, fc.double({ min: 0, max: 24 * 30, noNaN: true }), (events, extra, laterHours) => {
    const m = new ReliabilityModel();
    for (const e of events) m.observe(ev(e.kind, e.hoursAgo, e.count), NOW);
    const before = m.score(NOW).score;
    const later = m.score(NOW + laterHours * HOUR).score;
    m.observe(ev(extra.kind, extra.hoursAgo, extra.count), NOW);
    const after = m.score(NOW).score;
    return before > 0 && before <= 1 && after <= before + 1e-12 && later >= before - 1e-12;
  }));
  t.pass();
});

test('the default weights say an uncorrected error is a hundred corrected ones', (t) => {
  t.is(defaultReliabilityParams.weights['memory-ue'] / defaultReliabilityParams.weights['memory-ce'], 100);
});
