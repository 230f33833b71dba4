// Test fixtures for the guest channel manager: an in-memory hypervisor (the port, with events
// the test fires) and a model of QEMU's virtio-serial socket chardev in mode='bind': the guest's
// end of the port persists while host clients come and go, and what the guest writes while no
// host is connected is held and delivered to the next client (also on another "QEMU" after a
// migration) - the behaviour measured on real QEMU (docs: real-peers.md).
import { createServer, type Server, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { UnsupportedError } from '../../src/domain/errors.js';
import type { Hypervisor, VmEvent, VmInfo } from '../../src/domain/ports/hypervisor.js';

export class MemoryHypervisor implements Hypervisor {
  readonly uri = 'memory:///';
  readonly vms = new Map<string, { info: VmInfo; socket?: string }>();
  private readonly listeners = new Set<(e: VmEvent) => void>();
  private readonly reconnectListeners = new Set<() => void>();

  add(uuid: string, socket: string | undefined, state: VmInfo['state'] = 'running'): void {
    this.vms.set(uuid, { info: { uuid, name: `vm-${uuid.slice(0, 4)}`, state, vcpus: 1, memoryKiB: 1024, maxMemoryKiB: 1024 }, socket });
  }
  fire(uuid: string, kind: VmEvent['kind'], reason?: string): void {
    for (const l of this.listeners) l({ uuid, kind, detail: 0, ...(reason ? { reason } : {}) });
  }
  async listVms(): Promise<VmInfo[]> { return [...this.vms.values()].map((v) => v.info); }
  async getVm(uuid: string): Promise<VmInfo> { return this.vms.get(uuid)!.info; }
  async channelSocketPath(uuid: string): Promise<string | undefined> { return this.vms.get(uuid)?.socket; }
  onEvent(l: (e: VmEvent) => void): () => void { this.listeners.add(l); return () => this.listeners.delete(l); }
  onReconnect(l: () => void): () => void { this.reconnectListeners.add(l); return () => this.reconnectListeners.delete(l); }
  /** The hypervisor connection came back (events in between were missed). */
  reconnected(): void { for (const l of this.reconnectListeners) l(); }
  stats(): never { throw new UnsupportedError('memory hypervisor', 'stats'); }
  getScheduler(): never { throw new UnsupportedError('memory hypervisor', 'getScheduler'); }
  setScheduler(): never { throw new UnsupportedError('memory hypervisor', 'setScheduler'); }
  migrate(): never { throw new UnsupportedError('memory hypervisor', 'migrate'); }
  attachChannel(): never { throw new UnsupportedError('memory hypervisor', 'attachChannel'); }
  async close(): Promise<void> { this.listeners.clear(); }
}

/** The guest's end of a virtio-serial port; survives host reconnects and migrations. */
export class GuestPort {
  readonly guest: Duplex;
  private host: Socket | undefined;
  private held: Buffer[] = [];
  heldBytes = 0;

  constructor() {
    this.guest = new Duplex({
      read: () => {},
      write: (chunk: Buffer, _enc, cb) => {
        if (this.host && !this.host.destroyed) this.host.write(chunk);
        else { this.held.push(chunk); this.heldBytes += chunk.length; }
        cb();
      },
    });
  }

  /** A host client connected to the (current) QEMU socket: it gets what was held first. */
  connectHost(sock: Socket): void {
    this.host?.destroy();
    this.host = sock;
    for (const b of this.held.splice(0)) sock.write(b);
    this.heldBytes = 0;
    sock.on('data', (d: Buffer) => this.guest.push(d));
    sock.on('close', () => { if (this.host === sock) this.host = undefined; });
    sock.on('error', () => sock.destroy());
  }

  dropHost(): void {
    this.host?.destroy();
    this.host = undefined;
  }
}

/** QEMU's chardev socket (mode='bind') for one port: listens at path, one host client at a time. */
export class QemuSocket {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  constructor(readonly path: string, readonly port: GuestPort) {}

  async listen(): Promise<void> {
    this.server = createServer((s) => { this.sockets.add(s); s.on('close', () => this.sockets.delete(s)); this.port.connectHost(s); });
    await new Promise<void>((resolve) => this.server!.listen(this.path, () => resolve()));
  }

  /** QEMU exits (end of migration, or a restart): its client sees EOF. */
  async close(): Promise<void> {
    this.port.dropHost();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
