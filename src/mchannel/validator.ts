// What the channel needs from a protocol: check a body (or a reply) of a kind at the boundary.
// src/protocol's registry implements this; tests may use acceptAnything.

export type Checked =
  | { ok: true; value: unknown }
  | { ok: false; code: 'UNSUPPORTED' | 'INVALID_INPUT'; message: string };

export interface MessageValidator {
  /** Body of a notification or request of this kind. Unknown kind -> code UNSUPPORTED. */
  checkBody(kind: string, body: unknown): Checked;
  /** Reply to a request of this kind. */
  checkReply(kind: string, body: unknown): Checked;
}

/** Accepts every kind and body unchanged: for tests and benchmarks of the transport alone. */
export const acceptAnything: MessageValidator = {
  checkBody: (_kind, body) => ({ ok: true, value: body }),
  checkReply: (_kind, body) => ({ ok: true, value: body }),
};
