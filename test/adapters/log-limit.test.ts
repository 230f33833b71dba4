import test from 'ava';
import fc from 'fast-check';
import { ManualClock } from '../../src/domain/clock.js';
import { limitedWarn } from '../../src/adapters/log-limit.js';

test('a burst writes one line; the next line after the interval says how many were dropped', (t) => {
  const clock = new ManualClock(1000);
  const lines: [Record<string, unknown>, string][] = [];
  const warn = limitedWarn(clock, 10_000, (o, m) => lines.push([o, m]));
  for (let i = 0; i < 500; i++) warn({ domid: i }, 'bad ring');
  t.deepEqual(lines, [[{ domid: 0 }, 'bad ring']]);
  clock.advance(9_999);
  warn({ domid: 7 }, 'bad ring');
  t.is(lines.length, 1);
  clock.advance(1);
  warn({ domid: 8 }, 'bad ring');
  t.deepEqual(lines[1], [{ domid: 8, suppressed: 500 }, 'bad ring']);
  t.is(warn.suppressedTotal, 500);
});

test('any sequence of calls writes at most one line per interval, and each line accounts for every call since the last', (t) => {
  fc.assert(fc.property(fc.array(fc.nat(30_000), { maxLength: 300 }), (gaps) => {
    const clock = new ManualClock(0);
    const written: { at: number; index: number }[] = [];
    let said = 0;
    let index = 0;
    const warn = limitedWarn(clock, 10_000, (o) => { written.push({ at: clock.now(), index }); said += 1 + (typeof o['suppressed'] === 'number' ? o['suppressed'] : 0); });
    for (const g of gaps) {
      clock.advance(g);
      warn({}, 'x');
      index++;
    }
    for (let i = 1; i < written.length; i++) if (written[i]!.at - written[i - 1]!.at < 10_000) return false;
    const lastWritten = written.length > 0 ? written[written.length - 1]!.index : -1;
    return said === lastWritten + 1 && warn.suppressedTotal === gaps.length - written.length && (gaps.length === 0 || written[0]!.index === 0);
  }));
  t.pass();
});

test('a negative or infinite interval is refused', (t) => {
  t.throws(() => limitedWarn(new ManualClock(), -1, () => {}), { message: /everyMs: expected a finite number >= 0, got -1/ });
  t.throws(() => limitedWarn(new ManualClock(), Infinity, () => {}), { instanceOf: RangeError });
});
