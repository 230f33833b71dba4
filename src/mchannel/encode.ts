// Encoding of data-message payloads: the fields after the ack, `"k":KIND[,"q"|"p":ID],"b":BODY`
// or `...,"e":{code,message}`. The session stores payloads as they are (replay buffer, exported
// state) and stamps seq and ack on each transmission.
import { ErrorCodes, VmanageError } from '../domain/errors.js';
import type { MessageValidator } from './validator.js';

const kindCache = new Map<string, string>();

/** JSON text of a kind name; cached (bounded: 4096 names) since kinds repeat. */
export function encodeKind(kind: string): string {
  let k = kindCache.get(kind);
  if (k === undefined) {
    k = JSON.stringify(kind);
    if (kindCache.size < 4096) kindCache.set(kind, k);
  }
  return k;
}

/** Validates body (as a reply when reply is true) and encodes the payload; throws INVALID_INPUT
 *  or UNSUPPORTED naming the kind. extra is `,"q":ID` or `,"p":ID` or ''. */
export function encodePayload(v: MessageValidator, kind: string, body: unknown, extra: string, reply: boolean): string {
  const c = reply ? v.checkReply(kind, body) : v.checkBody(kind, body);
  if (!c.ok) throw new VmanageError(c.code === 'UNSUPPORTED' ? ErrorCodes.Unsupported : ErrorCodes.InvalidInput, `outgoing ${kind}: ${c.message}`, { kind });
  const b = c.value === undefined ? '' : `,"b":${JSON.stringify(c.value)}`;
  return `"k":${encodeKind(kind)}${extra}${b}`;
}

/** An error reply's payload (message cut to 1 KiB). */
export function encodeErrorReply(kind: string, id: number, code: string, message: string): string {
  return `"k":${encodeKind(kind)},"p":${id},"e":${JSON.stringify({ code, message: message.slice(0, 1024) })}`;
}
