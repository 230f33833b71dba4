// One host daemon's M-channel session on the leader: requests and notifications are handed to the
// leader core; bad input is counted by kind and logged with the host and what was wrong. Bodies
// were checked against the leader family's schemas by the channel (createRegistry(leaderFamily));
// a peer whose bodies keep failing (errorBudget in a row) is disconnected, like one sending bad
// frames (the channel's own budget). A failing handler never takes the leader down.
import type { Logger } from 'pino';
import type { Channel, Checked, MessageValidator, PeerIdentity } from '../../mchannel/index.js';
import type { HostRegister, HostRegisterReply, HostUpdate, MigrationRequest, MigrationStatus } from '../../protocol/leader.js';

export type BadInputKind =
  | 'invalid-body' | 'unknown-kind' | 'bad-frame' | 'bad-registration' | 'identity-mismatch' | 'unregistered'
  | 'duplicate-vm' | 'unknown-migration' | 'wrong-source' | 'bad-kind';

export interface LeaderCounters {
  /** Bad input from hosts, by kind. */
  readonly badInput: Map<BadInputKind, number>;
  /** Registrations refused, by reason: identity, invalid, not-leader. */
  readonly refusals: Map<string, number>;
  /** A host id registered while another live session held it (the newer session wins). */
  duplicateIdentities: number;
  /** Sessions closed for bad input. */
  disconnectedForBadInput: number;
  registrations: number;
  updates: number;
  /** M-channel bad-input counters of sessions that have ended, by counter name. */
  readonly endedSessionsBadInput: Map<string, number>;
}

export function newLeaderCounters(): LeaderCounters {
  return { badInput: new Map(), refusals: new Map(), duplicateIdentities: 0, disconnectedForBadInput: 0, registrations: 0, updates: 0, endedSessionsBadInput: new Map() };
}

export function bump<K>(m: Map<K, number>, k: K, by = 1): void {
  m.set(k, (m.get(k) ?? 0) + by);
}

export interface Problem { readonly kind: BadInputKind; readonly detail: string }

export interface SessionHandlers {
  register(ch: Channel, body: HostRegister, peer: PeerIdentity | undefined): HostRegisterReply;
  /** Problem found in the message (counted and logged as bad input), or undefined. */
  update(ch: Channel, body: HostUpdate): Problem | undefined;
  migrationRequest(ch: Channel, body: MigrationRequest): Promise<{ accepted: boolean; reason?: string }>;
  migrationStatus(ch: Channel, body: MigrationStatus): Problem | undefined;
  disconnected(ch: Channel): void;
  closed(ch: Channel): void;
}

export interface SessionOptions {
  readonly handlers: SessionHandlers;
  readonly counters: LeaderCounters;
  readonly log: Logger;
  /** Invalid bodies in a row before the session is closed. */
  readonly errorBudget: number;
  /** The host this session registered as (for logs). */
  readonly hostOf: (ch: Channel) => string | undefined;
}

export function serveSession(ch: Channel, o: SessionOptions): void {
  let badInARow = 0;
  const who = (): Record<string, unknown> => ({ host: o.hostOf(ch), peer: ch.peer?.id, transport: ch.peer?.transport });
  const bad = (kind: BadInputKind, detail: string): void => {
    bump(o.counters.badInput, kind);
    o.log.warn({ event: 'leader.bad-input', kind, ...who(), detail: detail.slice(0, 512) }, 'bad input from a host');
    if (++badInARow >= o.errorBudget) {
      o.counters.disconnectedForBadInput++;
      o.log.warn({ event: 'leader.host-disconnected', ...who(), badInARow }, 'host disconnected: too much bad input in a row');
      void ch.close();
    }
  };
  const good = (): void => {
    badInARow = 0;
  };
  ch.events.on('invalid', (e) => bad(e.error.code === 'UNSUPPORTED' ? 'unknown-kind' : 'invalid-body', e.error.message));
  ch.events.on('badFrame', (e) => {
    bump(o.counters.badInput, 'bad-frame');
    o.log.warn({ event: 'leader.bad-input', kind: 'bad-frame', ...who(), detail: e.detail.slice(0, 512) }, 'bad frame from a host');
  });
  ch.events.on('disconnected', () => o.handlers.disconnected(ch));
  ch.events.on('closed', () => o.handlers.closed(ch));
  ch.handle('host.register', (body, ctx) => {
    good();
    return o.handlers.register(ch, body as HostRegister, ctx.peer);
  });
  ch.handle('host.migration-request', (body) => {
    good();
    return o.handlers.migrationRequest(ch, body as MigrationRequest);
  });
  void (async () => {
    for await (const m of ch) {
      try {
        const problem = m.kind === 'host.update' ? o.handlers.update(ch, m.body as HostUpdate)
          : m.kind === 'host.migration-status' ? o.handlers.migrationStatus(ch, m.body as MigrationStatus)
            : { kind: 'bad-kind' as const, detail: `${m.kind} is not sent by hosts` };
        if (problem) bad(problem.kind, problem.detail);
        else good();
      } catch (err) {
        o.log.error({ event: 'leader.handler-failed', kind: m.kind, ...who(), err }, 'handling a host message failed');
      }
    }
  })();
}

// ---- host.update at the boundary, fast ----
// Every host sends host.update once a second: checking it with its zod schema costs more than
// the rest of its handling (about 17 µs for 10 VMs). hostUpdateIsPlain accepts only bodies the
// schema (src/protocol/leader.ts hostUpdate) accepts unchanged: the known fields, each within
// the schema's bounds, and no other field (zod would strip it). Anything else, including every
// invalid body, goes to the schema, which gives the verdict and the error message: the fast path
// can only say "valid as is", never "invalid" (test/leader-daemon/fast-update.test.ts checks
// it against the schema).

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const UPDATE_KEYS = new Set(['ts', 'watts', 'budgetWatts', 'budgetSource', 'capKHz', 'vms', 'reliability', 'budgetViolations']);
const BUDGET_SOURCES = new Set(['leader', 'last-known', 'safe', 'config']);
const SLAS = new Set(['ok', 'violated', 'unknown']);
const SLA_CLASSES = new Set(['gold', 'silver', 'bronze']);
const TRUST_LEVELS = new Set(['untrusted', 'standard', 'trusted', 'attested']);
const BUDGET_KEYS = new Set(['token', 'watts']);

const num = (x: unknown, min: number, max: number): boolean => typeof x === 'number' && Number.isFinite(x) && x >= min && x <= max;
const int = (x: unknown, min: number, max: number): boolean => Number.isSafeInteger(x) && (x as number) >= min && (x as number) <= max;
const watts = (x: unknown): boolean => num(x, 0, 1_000_000);

function plainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && Object.getPrototypeOf(x) === Object.prototype;
}

function onlyKeys(o: Record<string, unknown>, keys: ReadonlySet<string>): boolean {
  for (const k in o) if (!keys.has(k) || o[k] === undefined) return false;
  return true;
}

/** onlyKeys(v, VM_KEYS) as a switch: 100,000 VMs a second at 10,000 hosts (a Set lookup per key
 *  costs twice as much). */
function onlyVmKeys(v: Record<string, unknown>): boolean {
  for (const k in v) {
    switch (k) {
      case 'uuid': case 'name': case 'cpuUtil': case 'sla': case 'vcpus': case 'memoryKiB': case 'slaClass': case 'minReliability': case 'minTrust':
        if (v[k] === undefined) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

function plainVm(v: unknown): boolean {
  if (!plainObject(v) || !onlyVmKeys(v)) return false;
  if (typeof v['uuid'] !== 'string' || !UUID_RE.test(v['uuid'])) return false;
  const name = v['name'];
  if (name !== undefined && (typeof name !== 'string' || name.length < 1 || name.length > 64)) return false;
  if (!num(v['cpuUtil'], 0, 1) || !SLAS.has(v['sla'] as string)) return false;
  if (v['vcpus'] !== undefined && !int(v['vcpus'], 1, 4096)) return false;
  if (v['slaClass'] !== undefined && !SLA_CLASSES.has(v['slaClass'] as string)) return false;
  if (v['minReliability'] !== undefined && !num(v['minReliability'], 0, 1)) return false;
  if (v['minTrust'] !== undefined && !TRUST_LEVELS.has(v['minTrust'] as string)) return false;
  return v['memoryKiB'] === undefined || int(v['memoryKiB'], 0, 2 ** 50);
}

/** True when the host.update schema accepts body unchanged (false: ask the schema). */
export function hostUpdateIsPlain(body: unknown): boolean {
  if (!plainObject(body) || !onlyKeys(body, UPDATE_KEYS)) return false;
  if (!int(body['ts'], 0, 8.64e15) || (body['watts'] !== undefined && !watts(body['watts'])) || !watts(body['budgetWatts'])) return false;
  if (!BUDGET_SOURCES.has(body['budgetSource'] as string) || !int(body['capKHz'], 0, Number.MAX_SAFE_INTEGER) || !num(body['reliability'], 0, 1)) return false;
  if (body['budgetViolations'] !== undefined && !int(body['budgetViolations'], 0, Number.MAX_SAFE_INTEGER)) return false;
  const vms = body['vms'];
  if (!Array.isArray(vms) || vms.length > 4096) return false;
  for (const v of vms) if (!plainVm(v)) return false;
  return true;
}

/** True when the leader.budget schema accepts body unchanged (the leader checks what it sends:
 *  a budget a split makes, thousands a second at 10,000 hosts; false: ask the schema). */
export function leaderBudgetIsPlain(body: unknown): boolean {
  return plainObject(body) && onlyKeys(body, BUDGET_KEYS) && int(body['token'], 0, Number.MAX_SAFE_INTEGER) && watts(body['watts']) && (body['watts'] as number) > 0;
}

/** The leader's validator: the protocol registry, with fast paths in front for host.update (in)
 *  and leader.budget (out), the two kinds sent per host every few seconds. */
export function leaderValidator(registry: MessageValidator): MessageValidator {
  return {
    checkBody: (kind, body): Checked => ((kind === 'host.update' && hostUpdateIsPlain(body)) || (kind === 'leader.budget' && leaderBudgetIsPlain(body)) ? { ok: true, value: body } : registry.checkBody(kind, body)),
    checkReply: (kind, body) => registry.checkReply(kind, body),
  };
}
