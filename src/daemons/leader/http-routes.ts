// The /api routes over LeaderApi (docs/api.md). Reads answer from the leader's state on any
// leader (a standby answers with what it knows); actions answer 503 NOT_LEADER with the leader's
// name when this one does not lead, 404 when the host/VM/decision is unknown, and otherwise the
// leader's answer (`done: false` with its reason when the leader refused the action).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCodes } from '../../domain/errors.js';
import { checkCreateXml } from '../../adapters/libvirt/vm-meta.js';
import type { LeaderApi, PlaceRequest } from './api.js';
import { errorReply, type Rejection } from './http-errors.js';
import { routeSchemas as S } from './http-schemas.js';

/** Largest `limit` a list route accepts. */
export const MAX_LIST_LIMIT = 1000;
const DEFAULT_LIMIT = 50;

type Count = (route: string, r: Rejection) => void;

interface DryRun { dryRun?: boolean }
type Req<B = unknown, P = unknown, Q = unknown> = FastifyRequest<{ Body: B; Params: P; Querystring: Q }>;

export function registerRoutes(app: FastifyInstance, api: LeaderApi, count: Count): void {
  const refuse = (req: FastifyRequest, reply: FastifyReply, r: Rejection): FastifyReply => {
    count(req.routeOptions.url ?? 'unmatched', r);
    return errorReply(reply, r);
  };
  const notFound = (req: FastifyRequest, reply: FastifyReply, what: string): FastifyReply =>
    refuse(req, reply, { status: 404, reason: 'not-found', code: ErrorCodes.NotFound, message: what });
  const limitOf = (req: FastifyRequest, reply: FastifyReply, raw: string | undefined): number | FastifyReply => {
    const n = raw === undefined ? DEFAULT_LIMIT : Number(raw);
    if (n < 1 || n > MAX_LIST_LIMIT) return refuse(req, reply, { status: 400, reason: 'invalid-querystring', code: ErrorCodes.InvalidInput, field: 'querystring.limit', message: `querystring.limit: expected 1..${MAX_LIST_LIMIT}, got ${n}` });
    return n;
  };

  /** Actions: a missing body means "no options"; a standby refuses with who leads. */
  const action = {
    preValidation: async (req: FastifyRequest) => {
      if (req.body === undefined || req.body === null) req.body = {};
    },
    preHandler: async (req: FastifyRequest, reply: FastifyReply) => {
      const s = api.status();
      if (s.role === 'leader') return;
      const leader = s.leaderId !== undefined && s.leaderId !== s.id ? s.leaderId : undefined;
      const r: Rejection = {
        status: 503, reason: 'not-leader', code: ErrorCodes.NotLeader,
        message: `${s.id} is ${s.role}, not the leader${leader ? `; the leader is ${leader}` : '; no leader known'}`,
        ...(leader ? { leaderId: leader } : {}),
      };
      return refuse(req, reply, r);
    },
  };
  const hostKnown = (id: string): boolean => api.hosts().some((h) => h.id === id);

  app.get('/api/status', { schema: S.status }, async () => api.status());
  app.get('/api/hosts', { schema: S.hosts }, async () => api.hosts());
  app.get('/api/hosts/:id', { schema: S.host }, async (req: Req<unknown, { id: string }>, reply) => {
    const h = api.hosts().find((x) => x.id === req.params.id);
    return h ?? notFound(req, reply, `unknown host ${JSON.stringify(req.params.id)}`);
  });
  app.get('/api/vms', { schema: S.vms }, async () => api.vms());
  app.get('/api/budgets', { schema: S.budgets }, async () => api.budgets());
  app.get('/api/decisions', { schema: S.decisions }, async (req: Req<unknown, unknown, { limit?: string; before?: string }>, reply) => {
    const limit = limitOf(req, reply, req.query.limit);
    if (typeof limit !== 'number') return limit;
    return api.decisions({ limit, ...(req.query.before !== undefined ? { before: Number(req.query.before) } : {}) });
  });
  app.get('/api/decisions/:id', { schema: S.decision }, async (req: Req<unknown, { id: string }>, reply) => {
    const d = api.explain(Number(req.params.id));
    return d ?? notFound(req, reply, `unknown decision ${req.params.id}`);
  });
  app.get('/api/migrations', { schema: S.migrations }, async (req: Req<unknown, unknown, { limit?: string }>, reply) => {
    const limit = limitOf(req, reply, req.query.limit);
    return typeof limit === 'number' ? api.migrations({ limit }) : limit;
  });

  app.put<{ Body: { watts: number } & DryRun }>('/api/budgets', { schema: S.setBudget, ...action }, async (req) =>
    api.setClusterBudget(req.body.watts, { dryRun: req.body.dryRun === true }));
  app.post<{ Body: PlaceRequest & DryRun }>('/api/place', { schema: S.place, ...action }, async (req) => {
    const { dryRun, ...placeReq } = req.body;
    return api.place(withXmlSize(placeReq), { dryRun: dryRun === true });
  });
  app.post('/api/vms/:uuid/migrate', { schema: S.migrate, ...action }, async (req: Req<{ to?: string } & DryRun, { uuid: string }>, reply) => {
    const want = req.params.uuid.toLowerCase();
    const vm = api.vms().find((v) => v.uuid.toLowerCase() === want);
    if (!vm) return notFound(req, reply, `unknown VM ${want}`);
    if (req.body.to !== undefined && !hostKnown(req.body.to)) return notFound(req, reply, `unknown destination host ${JSON.stringify(req.body.to)}`);
    return api.migrate(vm.uuid, req.body.to, { dryRun: req.body.dryRun === true });
  });
  for (const verb of ['drain', 'undrain'] as const) {
    app.post(`/api/hosts/:id/${verb}`, { schema: S.drain, ...action }, async (req: Req<DryRun, { id: string }>, reply) => {
      if (!hostKnown(req.params.id)) return notFound(req, reply, `unknown host ${JSON.stringify(req.params.id)}`);
      return api[verb](req.params.id, { dryRun: req.body.dryRun === true });
    });
  }
  app.post('/api/migrations/:id/abort', { schema: S.abortMigration, ...action }, async (req: Req<DryRun, { id: string }>, reply) => {
    if (!api.abortMigration) return refuse(req, reply, { status: 501, reason: 'not-implemented', code: ErrorCodes.Unsupported, message: 'this leader cannot abort migrations' });
    const a = await api.abortMigration(Number(req.params.id), { dryRun: req.body.dryRun === true });
    return a ?? notFound(req, reply, `unknown migration ${req.params.id}`);
  });
  app.post<{ Body: DryRun }>('/api/plan', { schema: S.plan, ...action }, async (req) => api.plan({ dryRun: req.body.dryRun === true }));
}

/** vcpus and memoryMiB left out of a request with a domain XML are read from the XML (a bad XML
 *  is left for the leader's check to name). */
function withXmlSize(r: PlaceRequest): PlaceRequest {
  if (r.xml === undefined || (r.vcpus !== undefined && r.memoryMiB !== undefined)) return r;
  try {
    const x = checkCreateXml(r.xml);
    return { ...r, vcpus: r.vcpus ?? x.vcpus, memoryMiB: r.memoryMiB ?? x.memoryMiB };
  } catch {
    return r;
  }
}
