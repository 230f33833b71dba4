// A Redfish service for tests: node:http serving DMTF-shaped JSON for one chassis, with both the
// older Power resource (PowerControl[0].PowerConsumedWatts, PowerLimit.LimitInWatts) and the newer
// PowerSubsystem / EnvironmentMetrics (PowerWatts.Reading) / Controls (SetPoint) resources.
// Basic authentication or Redfish sessions (POST SessionService/Sessions -> X-Auth-Token); hostile modes: 'hang' (accepts, never answers), 'garbage' (200 with
// non-JSON), 'wrong-shape' (JSON of the wrong shape), 'unauthorized' (401 for everyone), 'custom'
// (bodies from a function, for fuzzing).
// Started per test, closed by t.teardown.
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Teardown } from './proc.js';

export type RedfishMode = 'ok' | 'hang' | 'garbage' | 'wrong-shape' | 'unauthorized' | 'custom';

export interface RedfishState {
  watts: number;
  /** Null: no limit. */
  limitWatts: number | null;
  allowableMin: number;
  allowableMax: number;
  /** Serve the newer EnvironmentMetrics / Controls resources (false: only the older Power). */
  modern: boolean;
  /** When true the limit PATCH answers 200 but does not change anything (firmware that ignores it). */
  ignoreCaps: boolean;
}

export interface RedfishServer {
  readonly url: string;
  readonly state: RedfishState;
  mode: RedfishMode;
  /** In 'custom' mode: the raw body (status 200) served for a GET of this path. */
  custom?: (path: string) => string;
  requests(): number;
  /** Redfish sessions (X-Auth-Token): how many were created, how many are open; drop them all. */
  sessionsCreated(): number;
  openSessions(): number;
  expireSessions(): void;
}

const USER = 'admin';
const PASSWORD = 'secret';
const MAX_BODY = 64 * 1024;

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'odata-version': '4.0' });
  res.end(JSON.stringify(body));
}

function redfishError(res: ServerResponse, status: number, id: string, message: string): void {
  send(res, status, { error: { code: `Base.1.8.${id}`, message, '@Message.ExtendedInfo': [{ MessageId: `Base.1.8.${id}`, Message: message }] } });
}

function authorised(req: IncomingMessage, sessions: Map<string, string>): boolean {
  const token = req.headers['x-auth-token'];
  if (typeof token === 'string') return sessions.has(token);
  const h = req.headers.authorization ?? '';
  return h === `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
}

const SESSIONS = '/redfish/v1/SessionService/Sessions';

/** POST Sessions (login) and DELETE Sessions/ID (logout); true if it handled the request. */
async function sessionRequest(req: IncomingMessage, res: ServerResponse, path: string, sessions: Map<string, string>, created: () => number): Promise<boolean> {
  if (req.method === 'POST' && path === SESSIONS) {
    const b = (await body(req)) as { UserName?: unknown; Password?: unknown };
    if (b?.UserName !== USER || b?.Password !== PASSWORD) {
      redfishError(res, 401, 'NoValidSession', 'invalid credentials');
      return true;
    }
    const id = String(created());
    const token = `tok-${id}-${Math.random().toString(36).slice(2)}`;
    sessions.set(token, id);
    res.writeHead(201, { 'content-type': 'application/json', 'x-auth-token': token, location: `${SESSIONS}/${id}` });
    res.end(JSON.stringify({ '@odata.id': `${SESSIONS}/${id}`, Id: id, UserName: USER }));
    return true;
  }
  if (req.method === 'DELETE' && path.startsWith(`${SESSIONS}/`)) {
    const id = path.slice(SESSIONS.length + 1);
    for (const [tok, sid] of sessions) if (sid === id) sessions.delete(tok);
    res.writeHead(204).end();
    return true;
  }
  return false;
}

async function body(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new Error('body too large');
    chunks.push(c as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function resources(s: RedfishState): Record<string, unknown> {
  const c = '/redfish/v1/Chassis/1';
  const chassis: Record<string, unknown> = {
    '@odata.id': c, '@odata.type': '#Chassis.v1_23_0.Chassis', Id: '1', Name: 'Computer System Chassis', ChassisType: 'RackMount',
    Power: { '@odata.id': `${c}/Power` },
  };
  if (s.modern) {
    chassis.PowerSubsystem = { '@odata.id': `${c}/PowerSubsystem` };
    chassis.EnvironmentMetrics = { '@odata.id': `${c}/EnvironmentMetrics` };
    chassis.Controls = { '@odata.id': `${c}/Controls` };
  }
  return {
    '/redfish/v1': {
      '@odata.id': '/redfish/v1', '@odata.type': '#ServiceRoot.v1_15_0.ServiceRoot', Id: 'RootService', RedfishVersion: '1.17.0',
      Chassis: { '@odata.id': '/redfish/v1/Chassis' }, SessionService: { '@odata.id': '/redfish/v1/SessionService' }, Links: { Sessions: { '@odata.id': SESSIONS } },
    },
    '/redfish/v1/Chassis': { '@odata.id': '/redfish/v1/Chassis', '@odata.type': '#ChassisCollection.ChassisCollection', 'Members@odata.count': 1, Members: [{ '@odata.id': c }] },
    [c]: chassis,
    [`${c}/Power`]: {
      '@odata.id': `${c}/Power`, '@odata.type': '#Power.v1_7_1.Power', Id: 'Power',
      PowerControl: [{
        '@odata.id': `${c}/Power#/PowerControl/0`, MemberId: '0', Name: 'System Power Control',
        PowerConsumedWatts: s.watts, PowerCapacityWatts: s.allowableMax,
        PowerLimit: { LimitInWatts: s.limitWatts, LimitException: 'LogEventOnly', CorrectionInMs: 1000 },
      }],
    },
    ...(s.modern ? {
      [`${c}/PowerSubsystem`]: { '@odata.id': `${c}/PowerSubsystem`, '@odata.type': '#PowerSubsystem.v1_1_0.PowerSubsystem', Id: 'PowerSubsystem', CapacityWatts: s.allowableMax, Allocation: { AllocatedWatts: s.limitWatts ?? s.allowableMax, RequestedWatts: s.allowableMax } },
      [`${c}/EnvironmentMetrics`]: { '@odata.id': `${c}/EnvironmentMetrics`, '@odata.type': '#EnvironmentMetrics.v1_3_0.EnvironmentMetrics', Id: 'EnvironmentMetrics', PowerWatts: { DataSourceUri: `${c}/Sensors/TotalPower`, Reading: s.watts } },
      [`${c}/Controls`]: { '@odata.id': `${c}/Controls`, '@odata.type': '#ControlCollection.ControlCollection', 'Members@odata.count': 1, Members: [{ '@odata.id': `${c}/Controls/PowerLimit` }] },
      [`${c}/Controls/PowerLimit`]: {
        '@odata.id': `${c}/Controls/PowerLimit`, '@odata.type': '#Control.v1_3_0.Control', Id: 'PowerLimit', ControlType: 'Power',
        SetPoint: s.limitWatts, SetPointUnits: 'W', ControlMode: s.limitWatts === null ? 'Disabled' : 'Automatic',
        AllowableMin: s.allowableMin, AllowableMax: s.allowableMax, Sensor: { DataSourceUri: `${c}/Sensors/TotalPower`, Reading: s.watts },
      },
    } : {}),
  };
}

async function patch(res: ServerResponse, path: string, s: RedfishState, input: unknown): Promise<void> {
  const c = '/redfish/v1/Chassis/1';
  const inRange = (w: unknown): w is number => typeof w === 'number' && Number.isInteger(w) && w >= s.allowableMin && w <= s.allowableMax;
  if (path === `${c}/Power`) {
    const lim = (input as { PowerControl?: { PowerLimit?: { LimitInWatts?: unknown } }[] })?.PowerControl?.[0]?.PowerLimit?.LimitInWatts;
    if (lim !== null && !inRange(lim)) return redfishError(res, 400, 'PropertyValueOutOfRange', `LimitInWatts ${String(lim)} is outside ${s.allowableMin}..${s.allowableMax}`);
    if (!s.ignoreCaps) s.limitWatts = lim;
    return send(res, 200, resources(s)[path]);
  }
  if (path === `${c}/Controls/PowerLimit` && s.modern) {
    const { SetPoint, ControlMode } = (input ?? {}) as { SetPoint?: unknown; ControlMode?: unknown };
    if (ControlMode === 'Disabled') {
      if (!s.ignoreCaps) s.limitWatts = null;
    } else {
      if (!inRange(SetPoint)) return redfishError(res, 400, 'PropertyValueOutOfRange', `SetPoint ${String(SetPoint)} is outside ${s.allowableMin}..${s.allowableMax}`);
      if (!s.ignoreCaps) s.limitWatts = SetPoint;
    }
    return send(res, 200, resources(s)[path]);
  }
  redfishError(res, 405, 'ActionNotSupported', `PATCH not supported on ${path}`);
}

/** tls: serve HTTPS with this key and certificate (PEM), as real BMCs do. */
export async function startRedfish(t: Teardown, initial: Partial<RedfishState> = {}, mode: RedfishMode = 'ok', tls?: { key: string; cert: string }): Promise<RedfishServer> {
  const state: RedfishState = { watts: 250, limitWatts: null, allowableMin: 100, allowableMax: 800, modern: true, ignoreCaps: false, ...initial };
  let requests = 0;
  let created = 0;
  const sessions = new Map<string, string>();
  const server: RedfishServer = {
    url: '', state, mode, requests: () => requests,
    sessionsCreated: () => created, openSessions: () => sessions.size, expireSessions: () => sessions.clear(),
  };
  const handler: RequestListener = (req, res) => {
    requests++;
    void (async () => {
      if (server.mode === 'hang') return; // never answers; the socket is destroyed at close
      const path = (req.url ?? '/').split('?')[0]?.replace(/\/$/, '') ?? '';
      if (server.mode !== 'unauthorized' && await sessionRequest(req, res, path, sessions, () => ++created)) return;
      if (server.mode === 'unauthorized' || !authorised(req, sessions)) return redfishError(res, 401, 'NoValidSession', 'authentication required');
      if (server.mode === 'garbage') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end('\u0000\u00ff{"PowerControl": [garbage');
      }
      if (server.mode === 'custom' && server.custom) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(server.custom(path));
      }
      if (server.mode === 'wrong-shape') return send(res, 200, { '@odata.id': path, PowerControl: 'none', PowerWatts: { Reading: 'high' }, Members: 7 });
      if (req.method === 'GET') {
        const r = resources(state)[path];
        return r ? send(res, 200, r) : redfishError(res, 404, 'ResourceMissingAtURI', `${path} not found`);
      }
      if (req.method === 'PATCH') return await patch(res, path, state, await body(req));
      redfishError(res, 405, 'ActionNotSupported', `${req.method ?? ''} not supported`);
    })().catch(() => redfishError(res, 400, 'MalformedJSON', 'bad request body'));
  };
  const http = tls ? createTlsServer({ key: tls.key, cert: tls.cert }, handler) : createServer(handler);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    http.closeAllConnections();
    http.close(() => resolve());
  }));
  (server as { url: string }).url = `${tls ? 'https' : 'http'}://127.0.0.1:${(http.address() as AddressInfo).port}`;
  return server;
}

export const redfishCredentials = { username: USER, password: PASSWORD };
