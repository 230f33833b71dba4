// POST /api/join: a host trades a one-time join token for a certificate signed by the cluster CA.
// The host sends {name, token, csr}; its private key never leaves it. The leader answers
// {cert, ca} (PEM) when the token is known, unused, unexpired and bound to `name`, the name is not
// reserved (the leaders' own names: a host must never get a certificate that passes for a
// leader), and the CSR is valid, self-signed, for exactly CN = name with a strong key. The token
// is consumed only once the certificate is made, so a bad CSR does not burn it.
// Refusals are 4xx {error, reason, message} and counted by reason; at most `maxInFlight` signings
// run at once (openssl processes), more get 503 busy.
//
// Use: `app.register(joinPlugin({ caDir, tokens, log }))`; `plugin.counters` are readable.
import type { FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { CA_CERT, checkCsr, MAX_CSR_BYTES, readCaCert, signCsr } from '../../adapters/pki/ca.js';
import { CERT_NAME } from '../../adapters/pki/names.js';
import { join as pathJoin } from 'node:path';
import { systemClock } from '../../adapters/clock.js';
import { JoinTokens, TOKENS_FILE, type TokenRefusal } from '../../adapters/pki/tokens.js';
import { isVmanageError } from '../../domain/errors.js';
import type { LeaderConfig } from './config.js';

export interface JoinPluginOptions {
  /** The CA directory (ca.key, ca.crt, tokens.json). */
  readonly caDir: string;
  readonly tokens: JoinTokens;
  readonly log: Logger;
  /** Names no host may join as (the leaders' certificate names). */
  readonly reservedNames?: readonly string[];
  /** Validity of the certificates made, days (default 825). */
  readonly days?: number;
  /** Signings at once (default 4). */
  readonly maxInFlight?: number;
}

export type JoinRefusalReason = 'body' | 'csr' | 'reserved-name' | 'busy' | 'error' | `token-${TokenRefusal}`;

export interface JoinCounters {
  /** Certificates issued. */
  issued: number;
  /** Refusals by reason. */
  refused: Partial<Record<JoinRefusalReason, number>>;
}

export type JoinPlugin = FastifyPluginAsync & { readonly counters: JoinCounters };

interface JoinBody { name: string; token: string; csr: string }

const bodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'token', 'csr'],
  properties: {
    name: { type: 'string', pattern: CERT_NAME.source },
    token: { type: 'string', minLength: 1, maxLength: 128 },
    csr: { type: 'string', minLength: 1, maxLength: MAX_CSR_BYTES },
  },
} as const;

const replySchema = {
  200: { type: 'object', required: ['cert', 'ca'], properties: { cert: { type: 'string' }, ca: { type: 'string' } } },
  '4xx': { type: 'object', properties: { error: { type: 'string' }, reason: { type: 'string' }, message: { type: 'string' } } },
  '5xx': { type: 'object', properties: { error: { type: 'string' }, reason: { type: 'string' }, message: { type: 'string' } } },
} as const;

const STATUS: Record<JoinRefusalReason, number> = {
  body: 400, csr: 400, 'reserved-name': 403, busy: 503, error: 500,
  'token-malformed': 401, 'token-unknown': 401, 'token-expired': 401, 'token-used': 401, 'token-wrong-name': 403,
};

export function joinPlugin(opts: JoinPluginOptions): JoinPlugin {
  const counters: JoinCounters = { issued: 0, refused: {} };
  const reserved = new Set(opts.reservedNames ?? []);
  let inFlight = 0;

  const refuse = (reply: FastifyReply, reason: JoinRefusalReason, message: string, name?: string): FastifyReply => {
    counters.refused[reason] = (counters.refused[reason] ?? 0) + 1;
    opts.log.warn({ event: 'join.refused', reason, name, message }, 'join refused');
    return reply.code(STATUS[reason]).send({ error: reason === 'error' ? 'internal' : 'join refused', reason, message });
  };

  const plugin = async (app: FastifyInstance): Promise<void> => {
    readCaCert(opts.caDir); // fail at start-up, not at the first join, when there is no CA
    app.setErrorHandler((err: { statusCode?: number; message: string }, _req, reply) => {
      const code = err.statusCode ?? 500;
      return refuse(reply, code >= 400 && code < 500 ? 'body' : 'error', code >= 500 ? 'internal error' : err.message.slice(0, 300));
    });
    app.post<{ Body: JoinBody }>('/api/join', { schema: { body: bodySchema, response: replySchema }, bodyLimit: 32 * 1024, attachValidation: true }, async (req, reply) => {
      if (req.validationError) return refuse(reply, 'body', `expected {name, token, csr}: ${req.validationError.message.slice(0, 300)}`);
      const { name, token, csr } = req.body;
      if (reserved.has(name)) return refuse(reply, 'reserved-name', `${name} is a leader's name; a host cannot join as it`, name);
      const check = opts.tokens.check(token, name);
      if (!check.ok) return refuse(reply, `token-${check.reason}`, check.message, name);
      if (inFlight >= (opts.maxInFlight ?? 4)) return refuse(reply, 'busy', 'too many joins at once; try again', name);
      inFlight++;
      try {
        try {
          await checkCsr(csr, name);
        } catch (err) {
          if (isVmanageError(err, 'JOIN_REFUSED')) return refuse(reply, 'csr', err.message, name);
          throw err;
        }
        const cert = await signCsr(opts.caDir, csr, { name, san: [name], ...(opts.days ? { days: opts.days } : {}) });
        const used = opts.tokens.consume(token, name); // a concurrent join with the same token lost
        if (!used.ok) return refuse(reply, `token-${used.reason}`, used.message, name);
        counters.issued++;
        opts.log.info({ event: 'join.issued', name }, `certificate issued to ${name}`);
        return { cert, ca: readCaCert(opts.caDir) };
      } catch (err) {
        opts.log.error({ err: (err as Error).message, name, ca: `${opts.caDir}/${CA_CERT}` }, 'join failed');
        return refuse(reply, 'error', 'the leader could not make the certificate', name);
      } finally {
        inFlight--;
      }
    });
  };
  return Object.assign(plugin, { counters });
}

/** Names no host may join as: this leader's id and the configured ones (the other leaders'). */
export function reservedNamesOf(cfg: Pick<LeaderConfig, 'id' | 'join'>): string[] {
  return [...new Set([cfg.id, ...(cfg.join?.reservedNames ?? [])])];
}

/** POST /api/join for a configuration that names the CA directory; undefined without one. */
export function joinPluginFor(cfg: LeaderConfig, log: Logger): JoinPlugin | undefined {
  if (!cfg.join) return undefined;
  const tokens = new JoinTokens(pathJoin(cfg.join.caDir, TOKENS_FILE), systemClock);
  return joinPlugin({ caDir: cfg.join.caDir, tokens, log, reservedNames: reservedNamesOf(cfg) });
}

/**
 * Exposes the join counters: vmanage_leader_joins_issued_total and
 * vmanage_leader_joins_refused_total{reason}, read from the live counters at scrape time.
 */
export function registerJoinMetrics(register: Registry, counters: JoinCounters): void {
  new Counter({
    name: 'vmanage_leader_joins_issued_total', help: 'Host certificates issued through POST /api/join', registers: [register],
    collect() { this.reset(); this.inc(counters.issued); },
  });
  new Counter({
    name: 'vmanage_leader_joins_refused_total', help: 'Joins refused, by reason', labelNames: ['reason'], registers: [register],
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(counters.refused)) if (n) this.inc({ reason }, n);
    },
  });
}
