// The MVM's local surfaces: the control socket vmanagectl talks to (unix stream, one JSON
// object per line each way: {"op":"status"} -> the status object; {"op":"request-migration",
// "vm": UUID, "reason"?: text} -> {"ok":true} once the leader accepted to move the VM away;
// anything else or a failure -> {"error": {code, message}}) and the Prometheus /metrics endpoint
// (node http). Requests are untrusted:
// lines are bounded (MAX_LINE bytes), at most MAX_CLIENTS connections, bad ones counted.
import { chmodSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

const MAX_LINE = 4096;
const MAX_CLIENTS = 32;

export interface ControlCounters { requests: number; badRequests: number; refusedClients: number }

/** Actions the control socket offers besides status (absent: refused as unsupported). */
export interface ControlActions {
  /** Asks the leader to move `vm` away from this host (the host's operator); rejects with why not. */
  requestMigration?(vm: string, reason: string): Promise<void>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ControlServer {
  readonly counters: ControlCounters;
  close(): Promise<void>;
}

function reply(sock: Socket, body: unknown): void {
  if (!sock.destroyed) sock.write(`${JSON.stringify(body)}\n`);
}

/** Listens on `path` (mode 0600, a stale socket file is replaced); `status()` builds the answer. */
export async function startControlServer(path: string, status: () => unknown, actions: ControlActions = {}): Promise<ControlServer> {
  const counters: ControlCounters = { requests: 0, badRequests: 0, refusedClients: 0 };
  const clients = new Set<Socket>();
  const server: Server = createServer((sock) => {
    if (clients.size >= MAX_CLIENTS) {
      counters.refusedClients++;
      sock.destroy();
      return;
    }
    clients.add(sock);
    sock.on('close', () => clients.delete(sock));
    sock.on('error', () => sock.destroy());
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        handle(sock, buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
      if (buf.length > MAX_LINE) {
        counters.badRequests++;
        reply(sock, { error: { code: 'INVALID_INPUT', message: `control request: line longer than ${MAX_LINE} bytes` } });
        sock.end();
        buf = '';
      }
    });
  });
  const handle = (sock: Socket, line: string): void => {
    counters.requests++;
    let req: unknown;
    try {
      req = JSON.parse(line);
    } catch {
      counters.badRequests++;
      reply(sock, { error: { code: 'INVALID_INPUT', message: 'control request: expected one JSON object per line' } });
      return;
    }
    const op = typeof req === 'object' && req !== null ? (req as { op?: unknown }).op : undefined;
    if (op === 'status') {
      reply(sock, status());
      return;
    }
    if (op === 'request-migration') {
      migrationRequest(sock, req as { vm?: unknown; reason?: unknown });
      return;
    }
    counters.badRequests++;
    reply(sock, { error: { code: 'INVALID_INPUT', message: `control request: op: expected "status", got ${JSON.stringify(op)?.slice(0, 40) ?? 'nothing'} (ops: status, request-migration)` } });
  };
  const migrationRequest = (sock: Socket, req: { vm?: unknown; reason?: unknown }): void => {
    const act = actions.requestMigration;
    if (!act) {
      reply(sock, { error: { code: 'UNSUPPORTED', message: 'request-migration: this host daemon has no leader configured' } });
      return;
    }
    if (typeof req.vm !== 'string' || !UUID.test(req.vm) || (req.reason !== undefined && (typeof req.reason !== 'string' || req.reason.length > 256))) {
      counters.badRequests++;
      reply(sock, { error: { code: 'INVALID_INPUT', message: 'request-migration: expected {"vm": a VM UUID, "reason"?: up to 256 characters}' } });
      return;
    }
    act(req.vm, typeof req.reason === 'string' && req.reason ? req.reason : 'asked on the host').then(() => reply(sock, { ok: true }), (err: unknown) => {
      reply(sock, { error: { code: (err as { code?: string }).code ?? 'UNAVAILABLE', message: err instanceof Error ? err.message : String(err) } });
    });
  };
  rmSync(path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => { server.off('error', reject); resolve(); });
  });
  chmodSync(path, 0o600);
  return {
    counters,
    close: () => new Promise<void>((resolve) => {
      for (const c of clients) c.destroy();
      server.close(() => { rmSync(path, { force: true }); resolve(); });
    }),
  };
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/** GET /metrics from `registry`; everything else 404. */
export async function startMetricsServer(host: string, port: number, registry: Registry): Promise<MetricsServer> {
  const server: HttpServer = createHttpServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404).end('not found\n');
      return;
    }
    registry.metrics().then((text) => {
      res.writeHead(200, { 'content-type': registry.contentType }).end(text);
    }, (err: unknown) => res.writeHead(500).end(`${String(err)}\n`));
  });
  server.requestTimeout = 10_000;
  server.maxConnections = 64;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
