// The Host-header allow-list of the leader's HTTP API and dashboard, against DNS rebinding: a page
// on evil.example whose name is re-pointed at the leader's address makes the browser send
// `Host: evil.example`, which is refused (403, counted). Allowed: the localhost names, the
// address the server is bound to (unless a wildcard) and the configured names (http.allowedHosts:
// add the names operators browse to). The port is not compared. /metrics (a scraper's target
// address) and /api/join (a one-time token) are not browser surfaces and are not checked.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCodes } from '../../domain/errors.js';
import type { Rejection } from './http-errors.js';

const LOCAL_NAMES = ['localhost', '127.0.0.1', '::1'];
const WILDCARDS = new Set(['0.0.0.0', '::', '']);
const UNCHECKED = new Set(['/metrics', '/api/join']);

/** The host part of a Host header, lower case, without port or IPv6 brackets; undefined if malformed. */
export function hostnameOf(header: string): string | undefined {
  const h = header.trim().toLowerCase();
  if (h.length === 0 || h.length > 300) return undefined;
  const m = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(h) ?? /^([a-z0-9._-]+)(?::\d{1,5})?$/.exec(h);
  const name = m ? (m[1] as string).replace(/\.$/, '') : '';
  return name.length > 0 ? name : undefined;
}

/** The set of names a request's Host may carry. */
export function allowedHostSet(bindHost: string, extra: readonly string[] = []): ReadonlySet<string> {
  const names = new Set(LOCAL_NAMES);
  const bound = bindHost.toLowerCase().replace(/^\[|\]$/g, '');
  if (!WILDCARDS.has(bound)) names.add(bound);
  for (const e of extra) names.add(hostnameOf(e) ?? e.toLowerCase());
  return names;
}

/** An onRequest hook refusing requests whose Host is not allowed (403 FORBIDDEN_HOST). */
export function hostCheck(allowed: ReadonlySet<string>, refuse: (req: FastifyRequest, reply: FastifyReply, r: Rejection) => FastifyReply) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const path = req.url.split('?')[0] ?? '';
    if (UNCHECKED.has(path)) return;
    const raw = req.headers.host;
    const name = raw === undefined ? undefined : hostnameOf(raw);
    if (name !== undefined && (allowed.has(name) || name.endsWith('.localhost'))) return;
    const shown = raw === undefined ? 'no Host header' : `Host ${JSON.stringify(raw.slice(0, 100))}`;
    await refuse(req, reply, {
      status: 403, reason: 'forbidden-host', code: ErrorCodes.PermissionDenied,
      message: `${shown} is not an allowed name of this leader (http.allowedHosts; localhost and the bound address are always allowed)`,
    });
  };
}
