import test from 'ava';
import fc from 'fast-check';
import { MemoryJournal } from '../../src/broker/journal.js';
import type { Decision } from '../../src/domain/model.js';

const decision = (value: number): Decision => ({ kind: 'set-frequency-cap', target: 'h1', value, policy: 'p', reason: { code: 'c', text: 't' }, predicted: {}, inputs: {} });

test('journal: keeps the newest entries up to its capacity, newest last, and observes by id', (t) => {
  const j = new MemoryJournal(3);
  const ids = [1, 2, 3, 4, 5].map((v) => j.append({ at: v, host: 'h1', decision: decision(v), outcome: 'applied' }));
  t.deepEqual(ids, [1, 2, 3, 4, 5]);
  t.deepEqual(j.recent(10).map((e) => e.id), [3, 4, 5]);
  j.observe(4, { at: 9, watts: 190 });
  j.observe(1, { at: 9, watts: 1 });
  t.like(j.recent(2)[0], { id: 4, observed: { watts: 190 } });
  t.is(j.size, 3);
});

test('journal: behaves like an unbounded list cut to its capacity (property)', (t) => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.oneof(fc.constant(-1), fc.integer({ min: 1, max: 40 })), { maxLength: 60 }), (cap, ops) => {
    const j = new MemoryJournal(cap);
    const model: { id: number; observed?: number }[] = [];
    let next = 1;
    for (const op of ops) {
      if (op === -1) {
        j.append({ at: 0, host: 'h', decision: decision(0), outcome: 'applied' });
        model.push({ id: next++ });
      } else {
        j.observe(op, { at: op });
        const m = model.slice(-cap).find((e) => e.id === op);
        if (m) m.observed = op;
      }
    }
    const want = model.slice(-cap);
    const got = j.recent(100);
    return got.length === want.length && got.every((e, i) => e.id === want[i]!.id && e.observed?.at === want[i]!.observed);
  }));
  t.pass();
});
