// JSON Schema documents for every registered kind, the envelope and the session state, so a peer
// in another language can be written from schemas/ alone. Pure: returns file name -> document;
// scripts/export-schemas.ts writes them and a test checks the committed copies are current.
import { z } from 'zod';
import { envelopeSchema, PROTOCOL_VERSION } from '../mchannel/wire.js';
import { sessionStateSchema } from '../mchannel/state.js';
import type { ProtocolRegistry } from './registry.js';

const DRAFT = 'https://json-schema.org/draft/2020-12/schema';

function doc(id: string, title: string, description: string, schema: z.ZodType, io: 'input' | 'output' = 'input'): object {
  const js = z.toJSONSchema(schema, { target: 'draft-2020-12', unrepresentable: 'any', io }) as Record<string, unknown>;
  const { $schema: _ignored, ...rest } = js;
  return { $schema: DRAFT, $id: `vmanage:${id}`, title, description, ...rest };
}

/** File name (relative to schemas/) -> JSON Schema document, in a stable order. */
export function jsonSchemas(registry: ProtocolRegistry): Map<string, object> {
  const out = new Map<string, object>();
  const index: Record<string, unknown>[] = [];
  for (const kind of registry.kinds()) {
    const spec = registry.spec(kind);
    if (!spec) continue;
    out.set(`${kind}.json`, doc(kind, kind, `${spec.description} (${spec.direction})`, spec.body));
    if (spec.reply) out.set(`${kind}.reply.json`, doc(`${kind}.reply`, `${kind} reply`, `Reply to ${kind}`, spec.reply));
    index.push({ kind, direction: spec.direction, description: spec.description, body: `${kind}.json`, ...(spec.reply ? { reply: `${kind}.reply.json` } : {}) });
  }
  out.set('envelope.json', doc('envelope', 'M-channel frame',
    `One line of the M-channel wire (NDJSON, UTF-8, at most 64 KiB per line), protocol version ${PROTOCOL_VERSION}. See docs/mchannel.md.`, envelopeSchema));
  out.set('session-state.json', doc('session-state', 'M-channel session state', 'An exported session, handed between host daemons on migration', sessionStateSchema));
  out.set('index.json', { protocolVersion: PROTOCOL_VERSION, envelope: 'envelope.json', sessionState: 'session-state.json', kinds: index });
  return out;
}

/** The text written for a document (stable formatting, trailing newline). */
export function schemaText(document: object): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}
