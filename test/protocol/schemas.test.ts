import test from 'ava';
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jsonSchemas, schemaText, vmanageRegistry } from '../../src/protocol/index.js';
import { envelopeSchema, parseFrame } from '../../src/mchannel/index.js';

const dir = join(import.meta.dirname, '..', '..', 'schemas');

test('the committed schemas/ files are current (run npm run schemas after changing a kind)', (t) => {
  const docs = jsonSchemas(vmanageRegistry());
  for (const [file, doc] of docs) {
    t.is(readFileSync(join(dir, file), 'utf8'), schemaText(doc), `schemas/${file} is stale`);
  }
  t.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.json')).sort(), [...docs.keys()].sort());
});

test('every kind has a JSON Schema document that names it', (t) => {
  const docs = jsonSchemas(vmanageRegistry());
  for (const kind of vmanageRegistry().kinds()) {
    const doc = docs.get(`${kind}.json`) as { title?: string; type?: string; oneOf?: { type?: string }[] } | undefined;
    t.is(doc?.title, kind);
    // A body is an object, or a choice of objects (a discriminated union such as leader.command).
    const types = doc?.oneOf ? doc.oneOf.map((d) => d.type) : [doc?.type];
    t.true(types.length > 0 && types.every((ty) => ty === 'object'), `${kind}: ${JSON.stringify(types)}`);
  }
});

const frameLike = fc.record({
  t: fc.constantFrom('hello', 'msg', 'ack', 'hb', 'bye', 'other'),
  v: fc.oneof(fc.constant(1), fc.integer()), role: fc.string({ maxLength: 3 }), id: fc.string({ maxLength: 3 }),
  sid: fc.string({ maxLength: 3 }), inc: fc.string({ maxLength: 3 }), ack: fc.integer({ min: -1, max: 3 }), base: fc.integer({ min: -1, max: 3 }),
  re: fc.oneof(fc.boolean(), fc.constant(0)), s: fc.integer({ min: -1, max: 3 }), a: fc.oneof(fc.integer({ min: -1, max: 3 }), fc.constant('1')),
  k: fc.string({ maxLength: 3 }), b: fc.jsonValue({ maxDepth: 1 }), code: fc.string({ maxLength: 3 }), message: fc.string({ maxLength: 3 }),
}, { requiredKeys: ['t'] });

test('the hand-written frame check agrees with the published envelope schema', (t) => {
  fc.assert(fc.property(frameLike, (f) => {
    const byHand = typeof parseFrame(f) !== 'string';
    const bySchema = envelopeSchema.safeParse(f).success;
    // The schema also allows q/p/e combinations the hand check refines; none are generated here.
    return byHand === bySchema;
  }), { numRuns: 2000 });
  t.pass();
});
