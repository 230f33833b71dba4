// How the leader's HTTP API says no: every refusal is `{error:{code, message, field?, leaderId?}}`
// with a stable code (domain/errors.ts), and a bounded `reason` for the metrics label. Fastify's
// validation, body-size, media-type and JSON errors and VmanageErrors thrown by LeaderApi are
// turned into one Rejection here; anything else is a 500 whose message hides the internals.
import type { FastifyReply } from 'fastify';
import { ErrorCodes, isVmanageError } from '../../domain/errors.js';

export interface Rejection {
  readonly status: number;
  /** Metric label: a small fixed set (invalid-body, too-large, not-leader, ...). */
  readonly reason: string;
  readonly code: string;
  readonly message: string;
  readonly field?: string;
  readonly leaderId?: string;
}

interface AjvError {
  readonly keyword: string;
  readonly instancePath: string;
  readonly message?: string;
  readonly params: Record<string, unknown>;
}

interface FastifyishError {
  readonly code?: string;
  readonly statusCode?: number;
  readonly message: string;
  readonly validation?: readonly AjvError[];
  readonly validationContext?: string;
}

const PARTS = new Set(['body', 'params', 'querystring', 'headers']);

/** `body.watts`, `params.id`, ... from Ajv's JSON pointer. */
function fieldOf(context: string, e: AjvError): string {
  const path = e.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (e.keyword === 'required' && typeof e.params['missingProperty'] === 'string') path.push(e.params['missingProperty']);
  if (e.keyword === 'additionalProperties' && typeof e.params['additionalProperty'] === 'string') path.push(e.params['additionalProperty']);
  return [context, ...path].join('.').slice(0, 200);
}

function validationMessage(field: string, e: AjvError): string {
  switch (e.keyword) {
    case 'required': return `${field}: required`;
    case 'additionalProperties': return `${field}: unknown field`;
    case 'type': return `${field}: expected ${String(e.params['type'])}`;
    case 'enum': return `${field}: expected one of ${(e.params['allowedValues'] as unknown[] | undefined)?.map((v) => JSON.stringify(v)).join(', ') ?? '?'}`;
    case 'pattern': return `${field}: expected a value matching ${String(e.params['pattern'])}`;
    default: return `${field}: ${e.message ?? e.keyword}`;
  }
}

const FASTIFY: Record<string, { status: number; reason: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, reason: 'too-large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, reason: 'media-type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, reason: 'content-length' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, reason: 'json' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, reason: 'json' },
};

const DOMAIN_STATUS: Record<string, number> = {
  [ErrorCodes.InvalidInput]: 400, [ErrorCodes.OutOfBounds]: 400, [ErrorCodes.NotFound]: 404, [ErrorCodes.VmNotFound]: 404,
  [ErrorCodes.NotLeader]: 503, [ErrorCodes.Unavailable]: 503, [ErrorCodes.PermissionDenied]: 403, [ErrorCodes.Timeout]: 504,
};

export function rejectionOf(err: unknown): Rejection {
  if (isVmanageError(err)) {
    const status = DOMAIN_STATUS[err.code] ?? 500;
    return { status, reason: status === 500 ? 'internal' : err.code.toLowerCase().replace(/_/g, '-'), code: err.code, message: err.message };
  }
  const e = err as FastifyishError;
  const first = e.validation?.[0];
  if (first) {
    const context = PARTS.has(e.validationContext ?? '') ? (e.validationContext as string) : 'request';
    const field = fieldOf(context, first);
    return { status: 400, reason: `invalid-${context}`, code: ErrorCodes.InvalidInput, message: validationMessage(field, first), field };
  }
  const known = e.code !== undefined ? FASTIFY[e.code] : undefined;
  if (known) return { ...known, code: ErrorCodes.InvalidInput, message: e.message };
  if (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: e.statusCode, reason: 'bad-request', code: ErrorCodes.InvalidInput, message: e.message };
  }
  return { status: 500, reason: 'internal', code: 'INTERNAL', message: 'internal error (see the leader log)' };
}

export function errorReply(reply: FastifyReply, r: Rejection): FastifyReply {
  return reply.code(r.status).send({
    error: { code: r.code, message: r.message, ...(r.field !== undefined ? { field: r.field } : {}), ...(r.leaderId !== undefined ? { leaderId: r.leaderId } : {}) },
  });
}
