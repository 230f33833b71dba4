// The xs_wire framing: property tests for the decoder (any chunking, any garbage) and the client
// against a hostile "xenstored" that answers with broken frames.
import test from 'ava';
import fc from 'fast-check';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { connectXenstoreSocket, MessageWriter } from '../../src/adapters/xen/connect.js';
import type { VmanageError } from '../../src/domain/errors.js';
import { encodeMessage, FrameDecoder, HEADER_BYTES, PAYLOAD_MAX, splitNul, XsType, type XsMessage } from '../../src/adapters/xen/wire.js';
import { tempDir } from '../support/proc.js';

const knownTypes = Object.values(XsType);
const message = fc.record({
  type: fc.constantFrom(...knownTypes),
  reqId: fc.nat({ max: 0xffffffff }),
  txId: fc.nat({ max: 0xffffffff }),
  payload: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
});

/** Splits bytes at the given cut points. */
function chunk(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) { out.push(bytes.subarray(prev, p)); prev = p; }
  out.push(bytes.subarray(prev));
  return out;
}

test('messages fed in any chunking decode to exactly the messages encoded', (t) => {
  fc.assert(fc.property(fc.array(message, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 20 }), (msgs, cuts) => {
    const bytes = Buffer.concat(msgs.map(encodeMessage));
    const dec = new FrameDecoder('test');
    const got: XsMessage[] = [];
    for (const c of chunk(bytes, cuts)) got.push(...dec.push(c));
    t.is(got.length, msgs.length);
    got.forEach((m, i) => {
      const want = msgs[i]!;
      if (m.type !== want.type || m.reqId !== want.reqId || m.txId !== want.txId || !m.payload.equals(want.payload)) throw new Error(`message ${i} differs`);
    });
    return dec.pending === 0;
  }));
});

test('arbitrary bytes never make the decoder throw anything but a protocol violation, nor hold more than one message', (t) => {
  fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 5000 }), { maxLength: 8 }), (chunks) => {
    const dec = new FrameDecoder('fuzz');
    for (const c of chunks) {
      try {
        dec.push(Buffer.from(c));
      } catch (err) {
        if ((err as VmanageError).code !== 'PROTOCOL_VIOLATION') throw err;
        return true;
      }
      if (dec.pending > HEADER_BYTES + PAYLOAD_MAX) return false;
    }
    return true;
  }));
  t.pass();
});

test('a payload over 4096 bytes is refused when encoding and when decoding', (t) => {
  t.throws(() => encodeMessage({ type: XsType.Write, reqId: 1, txId: 0, payload: Buffer.alloc(PAYLOAD_MAX + 1) }), { message: /4097 bytes/ });
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32LE(XsType.Read, 0);
  header.writeUInt32LE(PAYLOAD_MAX + 1, 12);
  const dec = new FrameDecoder('peer');
  const err = t.throws<VmanageError>(() => dec.push(header));
  t.is(err?.code, 'PROTOCOL_VIOLATION');
  t.is(dec.stats.malformed, 1);
});

test('nul-separated strings split back into the strings, with an unterminated tail kept', (t) => {
  fc.assert(fc.property(fc.array(fc.string({ unit: 'grapheme-ascii' }).filter((s) => !s.includes('\0') && s.length > 0), { maxLength: 6 }), (strs) => {
    const joined = Buffer.from(strs.map((s) => `${s}\0`).join(''));
    return JSON.stringify(splitNul(joined)) === JSON.stringify(strs);
  }));
  t.deepEqual(splitNul(Buffer.from('a\0value')), ['a', 'value']);
});

/** A fake xenstored that answers every request with what `answer` returns (raw bytes). */
async function hostileServer(t: Parameters<typeof tempDir>[0], answer: (req: XsMessage, sock: Socket) => Buffer | undefined): Promise<string> {
  const path = join(await tempDir(t, 'vmanage-xs-hostile-'), 'socket');
  const server = createServer((sock) => {
    const dec = new FrameDecoder('client');
    sock.on('data', (c: Buffer) => {
      for (const m of dec.push(c)) {
        const out = answer(m, sock);
        if (out) sock.write(out);
      }
    });
    sock.on('error', () => undefined);
  });
  server.listen(path);
  await once(server, 'listening');
  t?.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return path;
}

const reply = (req: XsMessage, type: number, payload: string | Buffer): Buffer => encodeMessage({ type, reqId: req.reqId, txId: req.txId, payload: Buffer.from(payload) });

const hostileReplies: [string, (req: XsMessage) => Buffer, string][] = [
  ['an oversized length field', () => { const b = Buffer.alloc(HEADER_BYTES); b.writeUInt32LE(XsType.Read, 0); b.writeUInt32LE(1 << 30, 12); return b; }, 'PROTOCOL_VIOLATION'],
  ['an unknown message type', (req) => reply(req, 999, 'x'), 'PROTOCOL_VIOLATION'],
  ['a reply of the wrong type', (req) => reply(req, XsType.Directory, 'a\0'), 'PROTOCOL_VIOLATION'],
  ['an error that is not an errno name', (req) => reply(req, XsType.Error, 'EWHATEVER\0'), 'PROTOCOL_VIOLATION'],
  ['a write acknowledged with something other than OK', (req) => reply(req, XsType.Write, 'KO\0'), 'PROTOCOL_VIOLATION'],
];

for (const [what, answer, code] of hostileReplies) {
  test(`a xenstored that answers with ${what} gets a typed error, counted`, async (t) => {
    const path = await hostileServer(t, (req) => answer(req));
    const xs = await connectXenstoreSocket(path);
    t.teardown(() => xs.close());
    const err = await t.throwsAsync<VmanageError>(xs.write('/a', 'b'));
    t.is(err?.code as string | undefined, code);
    t.is(xs.stats.malformed, 1);
  });
}

test('replies for unknown request ids and events for unknown watch tokens are counted and dropped', async (t) => {
  const path = await hostileServer(t, (req) => Buffer.concat([
    encodeMessage({ type: XsType.Read, reqId: req.reqId + 1000, txId: 0, payload: Buffer.from('stray') }),
    encodeMessage({ type: XsType.WatchEvent, reqId: 0, txId: 0, payload: Buffer.from('/p\0nobody\0') }),
    encodeMessage({ type: XsType.WatchEvent, reqId: 0, txId: 0, payload: Buffer.from('') }),
    reply(req, XsType.Read, 'real'),
  ]));
  const xs = await connectXenstoreSocket(path);
  t.teardown(() => xs.close());
  t.is(await xs.readString('/x'), 'real');
  t.is(xs.stats.unmatched, 1);
  t.is(xs.stats.droppedWatchEvents, 2);
});

test('when xenstored goes away every outstanding request fails with a typed error', async (t) => {
  const path = await hostileServer(t, (_req, sock) => { sock.destroy(); return undefined; });
  const xs = await connectXenstoreSocket(path);
  const results = await Promise.allSettled([xs.read('/a'), xs.read('/b')]);
  for (const r of results) t.is(r.status === 'rejected' && (r.reason as VmanageError).code, 'CHANNEL_CLOSED');
  t.true(xs.closed);
  await t.throwsAsync(xs.read('/c'), { message: /closed/ });
});

test('connecting to a socket where no xenstored listens fails with Unavailable', async (t) => {
  const dir = await tempDir(t);
  const err = await t.throwsAsync<VmanageError>(connectXenstoreSocket(join(dir, 'nothing')));
  t.is(err?.code as string | undefined, 'UNAVAILABLE');
});

test('a WATCH acknowledged with req_id 0, as older Linux xenbus devices do, completes the oldest watch request', async (t) => {
  const path = await hostileServer(t, (req) => (req.type === XsType.Watch
    ? encodeMessage({ type: XsType.Watch, reqId: 0, txId: 0, payload: Buffer.from('OK\0') })
    : reply(req, req.type, 'OK\0')));
  const xs = await connectXenstoreSocket(path);
  t.teardown(() => xs.close());
  await Promise.all([xs.watch('/a', 't1', () => undefined), xs.watch('/b', 't2', () => undefined)]);
  t.is(xs.stats.unmatched, 0);
});

test('a request over the configured payload limit is refused before it is sent', async (t) => {
  let requests = 0;
  const path = await hostileServer(t, (req) => { requests++; return reply(req, req.type, 'OK\0'); });
  const xs = await connectXenstoreSocket(path, { maxRequestPayload: PAYLOAD_MAX - HEADER_BYTES });
  t.teardown(() => xs.close());
  const err = await t.throwsAsync<VmanageError>(xs.write('/v', Buffer.alloc(PAYLOAD_MAX - HEADER_BYTES)));
  t.is(err?.code as string | undefined, 'FRAME_TOO_LARGE');
  await xs.write('/v', Buffer.alloc(100));
  t.is(requests, 1);
});

test('the xenbus writer never merges two messages into one write call, and finishes partial writes', async (t) => {
  const calls: Buffer[] = [];
  // A device that takes at most 7 bytes per write(2).
  const writer = new MessageWriter(99, (_fd, buf, offset, length, cb) => {
    const n = Math.min(7, length);
    calls.push(Buffer.from(buf.subarray(offset, offset + n)));
    setImmediate(() => cb(null, n));
  });
  const a = encodeMessage({ type: XsType.Read, reqId: 1, txId: 0, payload: Buffer.from('/a\0') });
  const b = encodeMessage({ type: XsType.Read, reqId: 2, txId: 0, payload: Buffer.from('/b\0') });
  writer.cork();
  writer.write(a);
  writer.write(b);
  writer.uncork();
  await new Promise<void>((r) => writer.end(r));
  t.true(Buffer.concat(calls).equals(Buffer.concat([a, b])));
  // No single call carries bytes of both messages.
  let offset = 0;
  for (const c of calls) {
    t.false(offset < a.length && offset + c.length > a.length);
    offset += c.length;
  }
});
