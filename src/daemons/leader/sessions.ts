// One host daemon's M-channel session on the leader: requests and notifications are handed to the
// leader core; bad input is counted by kind and logged with the host and what was wrong. Bodies
// were checked against the leader family's schemas by the channel (createRegistry(leaderFamily));
// a peer whose bodies keep failing (errorBudget in a row) is disconnected, like one sending bad
// frames (the channel's own budget). A failing handler never takes the leader down.
import type { Logger } from 'pino';
import type { Channel, PeerIdentity } from '../../mchannel/index.js';
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
