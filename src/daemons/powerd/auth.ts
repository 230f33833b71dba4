// Caller authorisation for vmanage-powerd: the bus daemon (not the message) says who the caller
// is. org.freedesktop.DBus.GetConnectionUnixUser gives the uid; GetConnectionCredentials gives
// the groups (UnixGroupIDs, dbus-daemon >= 1.11; without it only uids are checked). A caller is
// allowed if its uid is listed or it belongs to a listed group. Answers are cached per unique
// connection name (the bus never reuses one), in a bounded map; watch() drops a name's entry when
// the bus reports (NameOwnerChanged) that the connection is gone, so the map holds live callers.
// Every call is still authorised: the cache only saves the two bus round trips of identify().
import { readFile } from 'node:fs/promises';
import dbus from 'dbus-next';
import type { Message, MessageBus } from 'dbus-next';

export interface Caller {
  readonly sender: string;
  readonly uid: number;
  readonly gids: readonly number[];
}

const CACHE_MAX = 512;

export class AccessDenied extends Error {
  constructor(readonly caller: Caller | { sender: string }, reason: string) {
    super(reason);
    this.name = 'AccessDenied';
  }
}

/** Group names resolved through /etc/group; names that do not exist are returned in `missing`. */
export async function resolveGroups(groups: readonly (string | number)[], groupFile = '/etc/group'): Promise<{ gids: number[]; missing: string[] }> {
  const byName = new Map<string, number>();
  try {
    for (const line of (await readFile(groupFile, 'utf8')).split('\n')) {
      const [name, , gid] = line.split(':');
      if (name && gid && /^\d+$/.test(gid)) byName.set(name, Number(gid));
    }
  } catch {
    // no group database: only numeric gids can be used
  }
  const gids: number[] = [];
  const missing: string[] = [];
  for (const g of groups) {
    if (typeof g === 'number') gids.push(g);
    else if (byName.has(g)) gids.push(byName.get(g) as number);
    else missing.push(g);
  }
  return { gids, missing };
}

const NAME_OWNER_CHANGED = "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged'";

export interface AuthCounters {
  /** identify() answered from the cache / by asking the bus. */
  cacheHits: number;
  lookups: number;
  /** Cache entries dropped because their connection left the bus. */
  invalidated: number;
}

export class CallerAuthoriser {
  readonly counters: AuthCounters = { cacheHits: 0, lookups: 0, invalidated: 0 };
  private readonly cache = new Map<string, Caller>();
  /** Senders being looked up; set to true when the name vanished meanwhile (do not cache it). */
  private readonly inflight = new Map<string, boolean>();
  private watching = false;

  constructor(private readonly bus: MessageBus, private readonly allowedUids: readonly number[], private readonly allowedGids: readonly number[]) {}

  /**
   * Subscribes to NameOwnerChanged and forgets callers whose connection closed. Call once after
   * connecting; without it entries live until the bounded map evicts them.
   */
  async watch(): Promise<void> {
    if (this.watching) return;
    this.watching = true;
    this.bus.on('message', (msg: Message) => this.onBusMessage(msg));
    await this.busCall('AddMatch', NAME_OWNER_CHANGED);
  }

  /** Entries in the cache (for tests and counters). */
  get cached(): number {
    return this.cache.size;
  }

  /** Who the sender is, by the bus daemon's account. */
  async identify(sender: string): Promise<Caller> {
    const cached = this.cache.get(sender);
    if (cached) {
      this.counters.cacheHits++;
      return cached;
    }
    this.counters.lookups++;
    this.inflight.set(sender, false);
    try {
      const caller = await this.lookup(sender);
      if (!this.inflight.get(sender)) this.remember(caller);
      return caller;
    } finally {
      this.inflight.delete(sender);
    }
  }

  private async lookup(sender: string): Promise<Caller> {
    const uid = await this.busCall('GetConnectionUnixUser', sender);
    if (typeof uid !== 'number') throw new AccessDenied({ sender }, `the bus gave no uid for ${sender}`);
    let gids: number[] = [];
    try {
      const creds = (await this.busCall('GetConnectionCredentials', sender)) as Record<string, { value: unknown }> | undefined;
      const v = creds?.UnixGroupIDs?.value;
      if (Array.isArray(v)) gids = v.filter((g): g is number => typeof g === 'number');
    } catch {
      // older bus: uid only
    }
    return { sender, uid, gids };
  }

  private remember(caller: Caller): void {
    if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(caller.sender, caller);
  }

  /** NameOwnerChanged(name, old owner, new owner): a unique name with no new owner is gone. */
  private onBusMessage(msg: Message): void {
    if (msg.type !== dbus.MessageType.SIGNAL || msg.member !== 'NameOwnerChanged' || msg.sender !== 'org.freedesktop.DBus') return;
    if (msg.interface !== 'org.freedesktop.DBus' || msg.signature !== 'sss') return;
    const [name, , newOwner] = msg.body as [string, string, string];
    if (typeof name !== 'string' || !name.startsWith(':') || newOwner !== '') return;
    if (this.inflight.has(name)) this.inflight.set(name, true);
    if (this.cache.delete(name)) this.counters.invalidated++;
  }

  /** Resolves to the caller when allowed; rejects with AccessDenied otherwise. */
  async authorise(sender: string): Promise<Caller> {
    const caller = await this.identify(sender);
    if (this.allowedUids.includes(caller.uid)) return caller;
    if (caller.gids.some((g) => this.allowedGids.includes(g))) return caller;
    throw new AccessDenied(caller, `uid ${caller.uid} (${sender}) is not allowed to change power settings: not in allow.uids and in none of allow.groups`);
  }

  private async busCall(member: string, arg: string): Promise<unknown> {
    const reply = await this.bus.call(new dbus.Message({
      destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus',
      member, signature: 's', body: [arg],
    }));
    return reply?.body[0];
  }
}
