import test from 'ava';
import fc from 'fast-check';
import { isUtf8 } from 'node:buffer';
import { FrameDecoder, encodeFrame, type BadFrameKind } from '../../src/mchannel/index.js';
import { isVmanageError } from '../../src/domain/errors.js';

function collect(maxFrameBytes = 1024, maxDepth = 32): { dec: FrameDecoder; frames: unknown[]; bad: BadFrameKind[] } {
  const frames: unknown[] = [];
  const bad: BadFrameKind[] = [];
  const dec = new FrameDecoder({ maxFrameBytes, maxDepth, onFrame: (v) => frames.push(v), onBad: (k) => bad.push(k) });
  return { dec, frames, bad };
}

/** Splits buf at the given cut points (any order, duplicates allowed). */
function chunks(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

const jsonValue = fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<unknown>;

test('frames fed in random chunk sizes decode to the same values in order', (t) => {
  fc.assert(fc.property(fc.array(jsonValue, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (values, cuts) => {
    const wire = Buffer.from(values.map((v) => encodeFrame(v)).join(''));
    const { dec, frames, bad } = collect(64 * 1024);
    for (const c of chunks(wire, cuts)) dec.push(c);
    dec.end();
    t.deepEqual(bad, []);
    t.deepEqual(frames, values.map((v) => JSON.parse(JSON.stringify(v))));
  }), { numRuns: 300 });
});

test('garbage between frames is skipped to the next newline and each bad line is counted', (t) => {
  fc.assert(fc.property(
    fc.array(fc.oneof(
      fc.record({ good: jsonValue }),
      fc.record({ garbage: fc.string({ maxLength: 40 }).filter((s) => !s.includes('\n')).map((s) => `{not json ${s}`) }),
    ), { maxLength: 20 }),
    fc.array(fc.nat(), { maxLength: 20 }),
    (items, cuts) => {
      const lines = items.map((i) => ('good' in i ? JSON.stringify(i.good) : i.garbage));
      const { dec, frames, bad } = collect(64 * 1024);
      for (const c of chunks(Buffer.from(lines.map((l) => `${l}\n`).join('')), cuts)) dec.push(c);
      const good = items.filter((i): i is { good: unknown } => 'good' in i).map((i) => JSON.parse(JSON.stringify(i.good)));
      t.deepEqual(frames, good);
      t.is(bad.length, items.length - good.length);
      t.is(dec.counters.invalidJson, bad.length);
    },
  ), { numRuns: 200 });
});

test('an over-long line is dropped without being buffered and the next line decodes', (t) => {
  const { dec, frames, bad } = collect(100);
  const long = `{"x":"${'a'.repeat(10_000)}"}\n`;
  for (let i = 0; i < long.length; i += 7) {
    dec.push(Buffer.from(long.slice(i, i + 7)));
    t.true(dec.buffered <= 100);
  }
  dec.push(Buffer.from('{"ok":1}\n'));
  t.deepEqual(frames, [{ ok: 1 }]);
  t.deepEqual(bad, ['tooLong']);
  t.is(dec.counters.tooLong, 1);
});

test('a line exactly at the limit is accepted and one byte more is refused', (t) => {
  const { dec, frames, bad } = collect(20);
  const exact = `"${'b'.repeat(18)}"`; // 20 bytes
  dec.push(Buffer.from(`${exact}\n`));
  dec.push(Buffer.from(`"${'b'.repeat(19)}"\n`));
  t.deepEqual(frames, ['b'.repeat(18)]);
  t.deepEqual(bad, ['tooLong']);
});

const badLines: [string, Buffer, BadFrameKind][] = [
  ['invalid UTF-8 is refused', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d, 0x0a]), 'invalidUtf8'],
  ['a truncated UTF-8 sequence is refused', Buffer.from([0x22, 0xe2, 0x82, 0x22, 0x0a]), 'invalidUtf8'],
  ['nesting deeper than the limit is refused', Buffer.from(`${'['.repeat(33)}${']'.repeat(33)}\n`), 'tooDeep'],
  ['deep nesting is refused even when never closed', Buffer.from(`${'{"a":'.repeat(500)}\n`), 'tooDeep'],
  ['JSON with a trailing comma is refused', Buffer.from('{"a":1,}\n'), 'invalidJson'],
];
for (const [name, bytes, kind] of badLines) {
  test(name, (t) => {
    const { dec, frames, bad } = collect(64 * 1024);
    dec.push(bytes);
    dec.push(Buffer.from('{"after":true}\n'));
    t.deepEqual(bad, [kind]);
    t.deepEqual(frames, [{ after: true }]);
  });
}

test('brackets inside strings do not count as nesting', (t) => {
  const { dec, frames, bad } = collect(64 * 1024, 2);
  dec.push(Buffer.from(`{"s":"${'[{'.repeat(100)}\\"]"}\n`));
  t.deepEqual(bad, []);
  t.is(frames.length, 1);
});

test('CRLF line ends and blank lines are accepted', (t) => {
  const { dec, frames, bad } = collect();
  dec.push(Buffer.from('{"a":1}\r\n\n\r\n{"b":2}\n'));
  t.deepEqual(frames, [{ a: 1 }, { b: 2 }]);
  t.deepEqual(bad, []);
});

test('a stream that ends inside a line reports it truncated', (t) => {
  const { dec, frames, bad } = collect();
  dec.push(Buffer.from('{"a":1}\n{"b":'));
  dec.end();
  t.deepEqual(frames, [{ a: 1 }]);
  t.deepEqual(bad, ['truncated']);
});

test('encodeFrame refuses a frame over the limit with FRAME_TOO_LARGE', (t) => {
  const err = t.throws(() => encodeFrame({ x: 'y'.repeat(200) }, 100));
  t.true(isVmanageError(err, 'FRAME_TOO_LARGE'));
});

test('random bytes never throw and never make the decoder hold more than the limit', (t) => {
  fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), (parts) => {
    const { dec } = collect(64);
    for (const p of parts) {
      dec.push(Buffer.from(p));
      if (dec.buffered > 64) return false;
    }
    dec.end();
    return true;
  }), { numRuns: 300 });
  t.pass();
});

test('lines with invalid UTF-8 are found wherever the chunk boundaries fall', (t) => {
  const utf8Line = fc.uint8Array({ minLength: 1, maxLength: 30 }).map((u) => Buffer.from(u.filter((b) => b !== 0x0a && b !== 0x0d)))
    .filter((b) => b.length > 0);
  fc.assert(fc.property(fc.array(fc.oneof(utf8Line, fc.constant(Buffer.from('"é€😀"'))), { maxLength: 15 }), fc.array(fc.nat(), { maxLength: 10 }), (lines, cuts) => {
    const { dec, bad } = collect(64 * 1024);
    const wire = Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')]));
    for (const c of chunks(wire, cuts)) dec.push(c);
    const invalid = lines.filter((l) => !isUtf8(l)).length;
    t.is(bad.filter((k) => k === 'invalidUtf8').length, invalid);
  }), { numRuns: 300 });
});
