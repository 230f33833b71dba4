// A session's state as plain JSON: what a host daemon hands to another host daemon when the VM it
// talks to migrates (exportState on the source, resume on the destination). Everything needed to
// continue exactly-once, in-order delivery is here; pending request promises are not (a request
// still open on the source host is answered there with CHANNEL_CLOSED).
import { z } from 'zod';
import { ErrorCodes, VmanageError } from '../domain/errors.js';

const seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const sessionStateSchema = z.object({
  /** Format version of this object. */
  version: z.literal(1),
  sessionId: z.string().min(1).max(128),
  /** Local role ('host', 'agent', ...). */
  role: z.string().min(1).max(128),
  /** Incarnation of our outgoing stream (kept across export/import). */
  incarnation: z.string().min(1).max(128),
  /** Incarnation of the peer's outgoing stream last seen, or null before the first handshake. */
  peerIncarnation: z.string().min(1).max(128).nullable(),
  /** Seq the next outgoing message will get (>= 1). */
  nextSeq: seq.min(1),
  /** Highest incoming seq delivered in order to the application. */
  received: seq,
  /** Highest outgoing seq the peer acknowledged. */
  peerAck: seq,
  /** Unacknowledged outgoing messages, oldest first, seq strictly increasing and < nextSeq. */
  replay: z.array(z.object({ seq: seq.min(1), payload: z.string() })),
  /** Next request id to use. */
  nextRequestId: seq,
}).superRefine((s, ctx) => {
  let prev = s.peerAck;
  for (const [i, e] of s.replay.entries()) {
    if (e.seq <= prev || e.seq >= s.nextSeq) {
      ctx.addIssue({ code: 'custom', path: ['replay', i, 'seq'], message: `seq ${e.seq} must be > ${prev} and < nextSeq ${s.nextSeq}` });
      return;
    }
    prev = e.seq;
  }
  if (s.peerAck >= s.nextSeq) ctx.addIssue({ code: 'custom', path: ['peerAck'], message: 'peerAck must be < nextSeq' });
});

export type SessionState = z.infer<typeof sessionStateSchema>;

/** Validates an imported state (untrusted: it crossed hosts); throws INVALID_INPUT listing every problem. */
export function parseSessionState(input: unknown): SessionState {
  const r = sessionStateSchema.safeParse(input);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new VmanageError(ErrorCodes.InvalidInput, `invalid M-channel session state: ${problems.join('; ')}`, { problems });
  }
  return r.data;
}
