// The leader's HTTP API (docs/api.md), its server-sent events and the web dashboard, served by
// one fastify server over LeaderApi. Every route has JSON schemas; a request that does not fit
// answers 4xx `{error:{code, message}}` naming the field and is counted per route and reason
// (vmanage_http_rejected_total). Actions are refused with 503 (and who leads) while this leader
// is not leading. Bodies are at most 64 KiB. Optional: TLS (with client certificates required),
// the prom-client registry served at /metrics, and the join plugin (POST /api/join). Requests
// whose Host is not an allowed name are refused (http-hosts.ts, DNS rebinding); HEAD /api/events
// answers the stream's headers without opening one.
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { fastify, LogController } from 'fastify';
import type { Logger } from 'pino';
import { Counter, Gauge, Registry } from 'prom-client';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import type { LeaderApi } from './api.js';
import type { LeaderConfig } from './config.js';
import { dashboardPlugin, type DashboardOptions } from './dashboard/serve.js';
import { errorReply, rejectionOf, type Rejection } from './http-errors.js';
import { allowedHostSet, hostCheck } from './http-hosts.js';
import { registerRoutes } from './http-routes.js';
import { SseHub, type SseOptions } from './http-sse.js';

export const BODY_LIMIT_BYTES = 64 * 1024;

export interface HttpTls {
  /** PEM: the CA that client certificates must chain to. */
  readonly ca?: string | Buffer;
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /** Refuse clients without a certificate from `ca` (mTLS). */
  readonly requireClientCert: boolean;
}

export interface HttpOptions {
  readonly host: string;
  /** 0 picks a free port (see the returned port). */
  readonly port: number;
  readonly tls?: HttpTls;
  /** The leader's metrics; the API's own are added to it. Default: a registry of its own. */
  readonly registry?: Registry;
  readonly log: Logger;
  /** POST /api/join (src/daemons/leader/join.ts). */
  readonly join?: FastifyPluginAsync;
  readonly sse?: SseOptions;
  /** Serve the dashboard at / (default true; an object says where its files are). */
  readonly dashboard?: boolean | DashboardOptions;
  /** Names clients may send as Host besides localhost and `host` (http-hosts.ts). Without TLS the
   *  check always applies; with TLS (the certificate already binds the name) only when given. */
  readonly allowedHosts?: readonly string[];
}

export interface HttpCounters {
  /** Requests answered 4xx/5xx by `${route} ${reason}`. */
  readonly rejected: Record<string, number>;
}

export interface HttpServer {
  readonly port: number;
  /** http(s)://host:port */
  readonly url: string;
  readonly counters: HttpCounters;
  readonly sse: SseHub;
  close(): Promise<void>;
}

function metric<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

/** The route pattern (bounded label values), or 'unmatched'. */
export function routeOf(req: FastifyRequest): string {
  return req.routeOptions.url ?? 'unmatched';
}

export async function startHttp(api: LeaderApi, opts: HttpOptions): Promise<HttpServer> {
  const log = opts.log.child({ part: 'http' });
  const registry = opts.registry ?? new Registry();
  const rejectedMetric = metric(registry, 'vmanage_http_rejected_total', () => new Counter({
    name: 'vmanage_http_rejected_total', help: 'HTTP requests answered with an error, by route and reason', labelNames: ['route', 'reason'], registers: [registry],
  }));
  const requests = metric(registry, 'vmanage_http_requests_total', () => new Counter({
    name: 'vmanage_http_requests_total', help: 'HTTP requests by route, method and status', labelNames: ['route', 'method', 'status'], registers: [registry],
  }));
  const counters: HttpCounters = { rejected: {} };
  const count = (route: string, r: Rejection): void => {
    const key = `${route} ${r.reason}`;
    counters.rejected[key] = (counters.rejected[key] ?? 0) + 1;
    rejectedMetric.inc({ route, reason: r.reason });
  };

  const tls = opts.tls;
  const app = fastify({
    loggerInstance: log,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false } },
    ...(tls ? { https: { cert: tls.cert, key: tls.key, ...(tls.ca !== undefined ? { ca: tls.ca } : {}), requestCert: tls.requireClientCert, rejectUnauthorized: tls.requireClientCert } } : {}),
  }) as unknown as FastifyInstance;

  const hub = new SseHub(api, opts.sse, (why) => {
    count('/api/events', { status: 0, reason: 'slow-client', code: 'UNAVAILABLE', message: why });
    log.warn({ event: 'http.sse-dropped' }, why);
  });
  metric(registry, 'vmanage_http_sse_clients', () => new Gauge({
    name: 'vmanage_http_sse_clients', help: 'Open /api/events streams', registers: [registry], collect() { this.set(hub.size); },
  }));
  metric(registry, 'vmanage_http_sse_dropped_total', () => new Counter({
    name: 'vmanage_http_sse_dropped_total', help: 'Event streams cut because the client fell behind', registers: [registry],
    collect() { this.reset(); this.inc(hub.counters.dropped); },
  }));

  app.setErrorHandler((err, req, reply) => {
    const r = rejectionOf(err);
    count(routeOf(req), r);
    if (r.status >= 500) log.error({ err, route: routeOf(req) }, 'HTTP handler failed');
    else log.debug({ route: routeOf(req), reason: r.reason, message: r.message }, 'HTTP request refused');
    return errorReply(reply, r);
  });
  app.setNotFoundHandler((req, reply) => {
    const r: Rejection = { status: 404, reason: 'no-route', code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.slice(0, 200)}` };
    count('unmatched', r);
    return errorReply(reply, r);
  });
  if (!tls || opts.allowedHosts !== undefined) {
    app.addHook('onRequest', hostCheck(allowedHostSet(opts.host, opts.allowedHosts), (req, reply, r) => {
      count(routeOf(req), r);
      return errorReply(reply, r);
    }));
  }
  app.addHook('onResponse', async (req, reply) => {
    requests.inc({ route: routeOf(req), method: req.method, status: String(reply.statusCode) });
  });

  registerRoutes(app, api, count);
  app.get('/api/events', (req, reply) => serveEvents(hub, req, reply, count));
  app.get('/metrics', async (_req, reply) => {
    const text = await registry.metrics();
    return reply.type(registry.contentType).send(text);
  });
  if (opts.join) await app.register(opts.join);
  if (opts.dashboard !== false) {
    const where = typeof opts.dashboard === 'object' ? opts.dashboard : {};
    await app.register(dashboardPlugin(where, (why) => log.warn({ event: 'http.dashboard-missing' }, why)));
  }

  try {
    await app.listen({ host: opts.host, port: opts.port });
  } catch (err) {
    hub.close();
    await app.close();
    throw err;
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const url = `${tls ? 'https' : 'http'}://${host}:${port}`;
  log.info({ event: 'http.listening', url }, `leader API and dashboard on ${url}`);
  return {
    port, url, counters, sse: hub,
    async close() {
      hub.close();
      await app.close();
    },
  };
}

function serveEvents(hub: SseHub, req: FastifyRequest, reply: FastifyReply, count: (route: string, r: Rejection) => void): FastifyReply | undefined {
  if (hub.size >= hub.maxClients) {
    hub.counters.refused++;
    const r: Rejection = { status: 503, reason: 'sse-full', code: 'UNAVAILABLE', message: `already ${hub.size} event streams open; try again later` };
    count(routeOf(req), r);
    return errorReply(reply, r);
  }
  if (req.method === 'HEAD') return reply.code(200).header('content-type', 'text/event-stream').header('cache-control', 'no-cache').send();
  reply.hijack();
  hub.accept(reply.raw);
  return undefined;
}

/**
 * The HTTP options for a leader configuration's `http` section (certificate files read here, so a
 * missing one fails start-up with its path). With `tls.ca` set, clients must present a
 * certificate from that CA (mTLS); without it, TLS is server-only.
 */
export function httpOptionsFrom(c: LeaderConfig['http'], log: Logger, extra: Partial<HttpOptions> = {}): HttpOptions {
  const read = (what: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new VmanageError(ErrorCodes.ConfigInvalid, `http.tls.${what}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { path });
    }
  };
  const tls = c.tls ? {
    cert: read('cert', c.tls.cert), key: read('key', c.tls.key),
    ...(c.tls.ca !== undefined ? { ca: read('ca', c.tls.ca) } : {}), requireClientCert: c.tls.ca !== undefined,
  } : undefined;
  return { host: c.host, port: c.port, log, ...(tls ? { tls } : {}), ...(c.allowedHosts !== undefined ? { allowedHosts: c.allowedHosts } : {}), ...extra };
}
