// The guests of the simulated world: each VM runs the real guest agent (src/daemons/agent: its
// Agent core and M-channel link, guest role) whose push objective `latency_p95` is fed from the
// world's latency model, so the SLA reports the host daemons get are the agent's own.
// Each VM's channel is a unix socket per (host, VM) that the world listens on, as QEMU's chardev
// (mode=bind) does: the host daemon connects to it. A migration opens the destination's socket
// at once (QEMU starts there), holds a connection made to it until the VM has moved, then closes
// the source's (QEMU exits there) and attaches the agent's port to the destination's connection:
// the agent's session continues with whichever host daemon resumes it (session handover).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, realTimers } from '../daemons/agent/agent.js';
import type { AgentConfig } from '../daemons/agent/config.js';
import { createAgentLink } from '../daemons/agent/link.js';
import type { Logger as AgentLogger } from '../daemons/agent/log.js';
import { unixListener } from '../mchannel/transports/unix.js';
import type { Connection, Listener } from '../mchannel/types.js';
import type { World } from './world.js';

export const LATENCY_OBJECTIVE = 'latency_p95';

export interface GuestOptions {
  readonly world: World;
  /** Directory of the per-(host, VM) channel sockets. */
  readonly dir: string;
  /** Agent report period, ms (default 1000). */
  readonly reportMs?: number;
  readonly log: AgentLogger;
}

interface Port { readonly listener: Listener; conn?: Connection | undefined }

class SimGuest {
  readonly agent: Agent;
  private readonly link: ReturnType<typeof createAgentLink>;
  private readonly ports = new Map<string, Port>();
  private current: string;

  constructor(readonly vm: string, host: string, private readonly o: GuestOptions, cfg: AgentConfig) {
    this.current = host;
    this.link = createAgentLink(cfg, o.log);
    this.agent = new Agent(cfg, this.link, o.log, realTimers);
  }

  path(host: string): string {
    return join(this.o.dir, `${host}-${this.vm}.sock`);
  }

  /** Opens the socket on `host` (the VM starts or migrates in there). */
  async open(host: string): Promise<void> {
    if (this.ports.has(host)) return;
    const listener = await unixListener(this.path(host), { label: this.vm, mode: 0o600 });
    const port: Port = { listener };
    this.ports.set(host, port);
    listener.onConnection((conn) => {
      // One host client at a time, as a chardev: a new connection replaces the old one.
      port.conn?.stream.destroy();
      port.conn = conn;
      conn.stream.once('close', () => { if (port.conn === conn) port.conn = undefined; });
      if (host === this.current) this.link.attach(conn);
    });
  }

  /** The VM now runs on `to`: the source's socket goes, the destination's connection (if the host
   *  daemon is already there) gets the agent's port. */
  async moved(to: string): Promise<void> {
    const from = this.current;
    this.current = to;
    await this.closePort(from);
    const conn = this.ports.get(to)?.conn;
    if (conn && !conn.stream.destroyed) this.link.attach(conn);
  }

  async closePort(host: string): Promise<void> {
    const p = this.ports.get(host);
    if (!p) return;
    this.ports.delete(host);
    p.conn?.stream.destroy();
    await p.listener.close();
  }

  /** Feeds the agent the latency the world gives this VM now. */
  measure(): void {
    const ms = this.o.world.latencyMs(this.vm);
    if (ms !== undefined) this.agent.push.put(LATENCY_OBJECTIVE, ms);
  }

  async close(): Promise<void> {
    this.agent.stop();
    for (const h of [...this.ports.keys()]) await this.closePort(h);
    await this.link.close().catch(() => {});
  }
}

/** Every VM's guest agent and channel sockets, kept in step with the world's migrations. */
export class SimGuests {
  private readonly guests = new Map<string, SimGuest>();
  private readonly offs: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: GuestOptions) {}

  async start(): Promise<void> {
    mkdirSync(this.o.dir, { recursive: true, mode: 0o700 });
    const reportMs = this.o.reportMs ?? 1000;
    const { targetMs } = this.o.world.latency;
    const cfg: AgentConfig = {
      device: '(simulated virtio-serial port)', transport: 'virtio-serial', heartbeatMs: 2000, reportMs, maxQueuedReports: 64,
      objectives: [{ name: LATENCY_OBJECTIVE, source: 'push', op: '<=', target: targetMs, unit: 'ms', staleMs: reportMs * 5 }],
    };
    for (const vm of this.o.world.allVms()) {
      const g = new SimGuest(vm.uuid, vm.host, this.o, cfg);
      this.guests.set(vm.uuid, g);
      await g.open(vm.host);
    }
    const w = this.o.world;
    this.offs.push(
      w.events.on('migration-started', (e) => void this.guests.get(e.vm)?.open(e.to).catch((err: unknown) => this.o.log.warn('cannot open the destination channel socket', { vm: e.vm, err: String(err) }))),
      w.events.on('moved', (e) => void this.guests.get(e.vm)?.moved(e.to)),
      w.events.on('migration-ended', (e) => { if (e.outcome === 'aborted') void this.guests.get(e.vm)?.closePort(e.to); }),
    );
    const measureAll = (): void => { for (const g of this.guests.values()) g.measure(); };
    measureAll();
    for (const g of this.guests.values()) g.agent.start();
    this.timer = setInterval(measureAll, Math.max(50, Math.floor(reportMs / 4)));
  }

  /** The host-side socket of `vm`'s channel on `host` (where the world serves it). */
  channelPath(vm: string, host: string): string | undefined {
    return this.guests.get(vm.toLowerCase())?.path(host);
  }

  /** Agent counters per VM (reports sent), for the summary. */
  reportsSent(): number {
    let n = 0;
    for (const g of this.guests.values()) n += g.agent.stats.reportsSent;
    return n;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const off of this.offs) off();
    await Promise.all([...this.guests.values()].map((g) => g.close()));
  }
}
