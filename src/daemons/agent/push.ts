// Where applications push SLA measurements: a unix socket (one JSON object per line,
// {"name": "...", "value": N}) and an HTTP endpoint (POST /v1/measurements with the same object
// or an array of them). Inputs are untrusted: lines over 4 KiB, bodies over 64 KiB, more than
// 32 connections, unknown names and non-numbers are rejected and counted, never thrown.
import { createServer as createHttp, type Server as HttpServer } from 'node:http';
import { createServer as createNet, type Server as NetServer, type Socket } from 'node:net';
import { unlinkSync } from 'node:fs';
import type { PushStore } from './sla.js';

const MAX_LINE = 4096;
const MAX_BODY = 64 * 1024;
const MAX_CONNECTIONS = 32;

export interface PushCounters { accepted: number; rejected: number }

/** Applies one parsed measurement object; returns whether it was accepted. */
export function applyMeasurement(store: PushStore, m: unknown, counters: PushCounters): boolean {
  const ok = typeof m === 'object' && m !== null && typeof (m as { name?: unknown }).name === 'string'
    && typeof (m as { value?: unknown }).value === 'number'
    && store.put((m as { name: string }).name, (m as { value: number }).value);
  if (ok) counters.accepted++;
  else counters.rejected++;
  return ok;
}

function parseJson(s: string): unknown {
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return undefined;
  }
}

function onSocket(sock: Socket, store: PushStore, counters: PushCounters): void {
  let buf = '';
  let skipping = false;
  sock.setEncoding('utf8');
  sock.on('error', () => sock.destroy());
  sock.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (skipping) {
        skipping = false;
        continue;
      }
      if (line.length > MAX_LINE) {
        counters.rejected++;
        sock.write('rejected\n');
        continue;
      }
      const ok = line.trim() !== '' && applyMeasurement(store, parseJson(line), counters);
      sock.write(ok ? 'ok\n' : 'rejected\n');
    }
    if (buf.length > MAX_LINE) {
      counters.rejected++;
      sock.write('rejected\n');
      buf = '';
      skipping = true;
    }
  });
}

export async function listenUnix(path: string, store: PushStore, counters: PushCounters): Promise<NetServer> {
  try {
    unlinkSync(path);
  } catch {
    /* absent */
  }
  const srv = createNet((s) => onSocket(s, store, counters));
  srv.maxConnections = MAX_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(path, () => resolve());
  });
  return srv;
}

export async function listenHttp(host: string, port: number, store: PushStore, counters: PushCounters): Promise<HttpServer> {
  const srv = createHttp((req, res) => {
    if (req.method !== 'POST' || req.url !== '/v1/measurements') {
      res.writeHead(404).end('POST /v1/measurements\n');
      req.resume();
      return;
    }
    let body = '';
    let tooBig = false;
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      if (body.length + c.length > MAX_BODY) tooBig = true;
      else body += c;
    });
    req.on('end', () => {
      if (tooBig) {
        counters.rejected++;
        res.writeHead(413).end(`body larger than ${MAX_BODY} bytes\n`);
        return;
      }
      const parsed = parseJson(body);
      const items = Array.isArray(parsed) ? parsed.slice(0, 256) : [parsed];
      const accepted = items.filter((m) => applyMeasurement(store, m, counters)).length;
      res.writeHead(accepted === items.length ? 200 : 400, { 'content-type': 'application/json' })
        .end(JSON.stringify({ accepted, rejected: items.length - accepted }) + '\n');
    });
  });
  srv.maxConnections = MAX_CONNECTIONS;
  srv.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, host, () => resolve());
  });
  return srv;
}
