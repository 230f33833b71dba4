// The registry of message kinds: each kind has a zod schema for its body (and for its reply, when
// it is a request). Families (one file each: guest.ts, hook.ts, ...) are registered in one
// explicit call, createRegistry(...families); there is no registration by import side effect.
// The registry is the MessageValidator the M-channel checks every body with at the boundary.
import { z } from 'zod';
import type { Checked, MessageValidator } from '../mchannel/validator.js';

export interface KindSpec {
  /** Wire name, 'family.name'. */
  readonly kind: string;
  /** Who sends it: 'guest->host', 'host->guest', 'hook->host', 'host->leader', 'leader->host', ... */
  readonly direction: string;
  readonly description: string;
  readonly body: z.ZodType;
  /** Present for requests: the schema of the reply. Absent: a one-way notification. */
  readonly reply?: z.ZodType;
}

export interface MessageFamily {
  readonly name: string;
  readonly description: string;
  readonly kinds: readonly KindSpec[];
}

/** Identity helper that keeps the literal types of a family definition. */
export function defineFamily<F extends MessageFamily>(family: F): F {
  return family;
}

const MAX_PROBLEMS = 8;

function describe(error: z.ZodError): string {
  const parts = error.issues.slice(0, MAX_PROBLEMS).map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`);
  if (error.issues.length > MAX_PROBLEMS) parts.push(`... ${error.issues.length - MAX_PROBLEMS} more`);
  return parts.join('; ');
}

export class ProtocolRegistry implements MessageValidator {
  private readonly specs = new Map<string, KindSpec>();
  private readonly familyList: MessageFamily[] = [];

  /** Adds a family; a kind registered twice is a programming error (throws). */
  register(family: MessageFamily): this {
    for (const spec of family.kinds) {
      if (this.specs.has(spec.kind)) throw new Error(`message kind ${spec.kind} registered twice (family ${family.name})`);
      if (!/^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$/.test(spec.kind)) throw new Error(`message kind ${spec.kind} is not of the form family.name`);
    }
    for (const spec of family.kinds) this.specs.set(spec.kind, spec);
    this.familyList.push(family);
    return this;
  }

  has(kind: string): boolean {
    return this.specs.has(kind);
  }

  spec(kind: string): KindSpec | undefined {
    return this.specs.get(kind);
  }

  kinds(): string[] {
    return [...this.specs.keys()].sort();
  }

  families(): readonly MessageFamily[] {
    return this.familyList;
  }

  checkBody(kind: string, body: unknown): Checked {
    const spec = this.specs.get(kind);
    if (!spec) return { ok: false, code: 'UNSUPPORTED', message: `unknown message kind ${JSON.stringify(kind).slice(0, 140)}` };
    const r = spec.body.safeParse(body);
    return r.success ? { ok: true, value: r.data } : { ok: false, code: 'INVALID_INPUT', message: describe(r.error) };
  }

  checkReply(kind: string, body: unknown): Checked {
    const spec = this.specs.get(kind);
    if (!spec) return { ok: false, code: 'UNSUPPORTED', message: `unknown message kind ${JSON.stringify(kind).slice(0, 140)}` };
    if (!spec.reply) return { ok: false, code: 'INVALID_INPUT', message: `${kind} is a notification: it has no reply` };
    const r = spec.reply.safeParse(body);
    return r.success ? { ok: true, value: r.data } : { ok: false, code: 'INVALID_INPUT', message: describe(r.error) };
  }
}

export function createRegistry(...families: MessageFamily[]): ProtocolRegistry {
  const r = new ProtocolRegistry();
  for (const f of families) r.register(f);
  return r;
}

/** Body (or reply) type of a kind spec. */
export type BodyOf<S extends KindSpec> = z.infer<S['body']>;
export type ReplyOf<S extends KindSpec> = S['reply'] extends z.ZodType ? z.infer<S['reply']> : never;
