// Serves the simulated world to the host daemons: one unix socket, one M-channel per client
// (ChannelServer; the sim protocol family validates every body), requests answered from the
// World, VM events and migration progress sent to the channels that subscribed for that host.
// It also runs the guests (real agents on per-VM channel sockets) and the world's clock tick.
import type { Logger } from 'pino';
import type { Clock } from '../domain/clock.js';
import { ChannelServer } from '../mchannel/server.js';
import type { Channel } from '../mchannel/channel.js';
import { unixListener } from '../mchannel/transports/unix.js';
import { createRegistry } from '../protocol/registry.js';
import { simFamily, type WorldScheduler } from '../protocol/sim.js';
import { SimGuests } from './guests.js';
import type { World } from './world.js';

export interface WorldServerOptions {
  readonly world: World;
  readonly clock: Clock;
  /** The world's socket (sim:///HOST?world=THIS). */
  readonly socketPath: string;
  /** Directory of the VMs' channel sockets. */
  readonly channelDir: string;
  readonly log: Logger;
  /** World integration tick, ms (default 100). */
  readonly tickMs?: number;
  /** Agent report period, ms (default 1000). */
  readonly reportMs?: number;
}

type Body = Record<string, unknown> & { host: string };

export class WorldServer {
  readonly counters = { requests: 0, errors: 0, eventsSent: 0 };
  private readonly subscribers = new Map<string, Set<Channel>>();
  private readonly offs: (() => void)[] = [];
  private timers: NodeJS.Timeout[] = [];

  private constructor(private readonly o: WorldServerOptions, private readonly server: ChannelServer, readonly guests: SimGuests) {}

  static async start(o: WorldServerOptions): Promise<WorldServer> {
    const guestLog = o.log.child({ part: 'agent' });
    const guests = new SimGuests({
      world: o.world, dir: o.channelDir, ...(o.reportMs ? { reportMs: o.reportMs } : {}),
      log: {
        debug: () => {}, info: (m, f) => guestLog.debug(f ?? {}, m), warn: (m, f) => guestLog.warn(f ?? {}, m), error: (m, f) => guestLog.error(f ?? {}, m),
      },
    });
    await guests.start();
    const listener = await unixListener(o.socketPath, { mode: 0o600 });
    const server = new ChannelServer(listener, { role: 'world', validator: createRegistry(simFamily), clock: o.clock, sessionLingerMs: 10_000 });
    const ws = new WorldServer(o, server, guests);
    server.events.on('channel', (ch) => ws.serve(ch));
    ws.wire();
    return ws;
  }

  private wire(): void {
    const { world } = this.o;
    this.offs.push(world.events.on('event', (e) => this.sendTo(e.host, 'world.event', e)));
    this.timers.push(setInterval(() => world.tick(), this.o.tickMs ?? 100));
    // Progress of migrations leaving each host, twice a second.
    this.timers.push(setInterval(() => {
      for (const vm of world.allVms()) {
        const from = world.whereIs(vm.uuid);
        const p = from ? world.progress(from, vm.uuid) : undefined;
        if (from && p) this.sendTo(from, 'world.progress', { host: from, vm: vm.uuid, ...p });
      }
    }, 500));
  }

  private sendTo(host: string, kind: string, body: unknown): void {
    for (const ch of this.subscribers.get(host) ?? []) {
      this.counters.eventsSent++;
      ch.send(kind, body).catch(() => { /* a gone subscriber */ });
    }
  }

  private serve(ch: Channel): void {
    const { world } = this.o;
    const h = (kind: string, fn: (b: Body) => unknown): void => ch.handle(kind, async (body) => {
      this.counters.requests++;
      try {
        return await fn(body as Body);
      } catch (err) {
        this.counters.errors++;
        throw err;
      }
    });
    h('world.subscribe', (b) => {
      const info = world.hostInfo(b.host);
      let set = this.subscribers.get(b.host);
      if (!set) this.subscribers.set(b.host, (set = new Set()));
      set.add(ch);
      ch.events.on('closed', () => set.delete(ch));
      return info;
    });
    h('world.host', (b) => world.hostInfo(b.host));
    h('world.vms', (b) => ({ vms: world.vms(b.host) }));
    h('world.stats', (b) => world.stats(b.host, b.vm as string));
    h('world.scheduler.get', (b) => world.scheduler(b.host, b.vm as string));
    h('world.scheduler.set', (b) => {
      const { host, vm, ...s } = b;
      world.setScheduler(host, vm as string, s as WorldScheduler);
      return { ok: true };
    });
    h('world.channel', (b) => {
      world.scheduler(b.host, b.vm as string); // VM_NOT_FOUND unless it runs (or migrates in) here
      return { path: this.guests.channelPath(b.vm as string, b.host) };
    });
    h('world.migrate', async (b) => {
      this.o.log.info({ event: 'world.migration', vm: b.vm, name: world.vmName(b.vm as string), from: b.host, to: b.to }, 'migration under way in the world');
      await world.migrate(b.host, b.vm as string, b.to as string, b.bandwidthMiBps as number | undefined);
      return { ok: true };
    });
    h('world.migrate-abort', (b) => ({ aborted: world.abortMigration(b.host, b.vm as string) }));
    h('world.power', (b) => {
      world.tick();
      const s = world.now(b.host);
      return { watts: s.watts, utilisation: s.utilisation, timestamp: this.o.clock.now() };
    });
    h('world.cap', (b) => {
      world.setCap(b.host, b.kHz as number | undefined);
      return { ok: true };
    });
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    for (const off of this.offs) off();
    this.o.world.close();
    await this.server.close({ endSessions: true });
    await this.guests.close();
  }
}
