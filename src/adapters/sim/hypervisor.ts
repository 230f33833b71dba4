// The Hypervisor port for one simulated host (`sim:///HOST?world=SOCKET`), talking to the
// simulated world over its M-channel: the VM inventory, CPU time that advances by the share each
// VM got, scheduler parameters the world's CPU model honours, lifecycle events (also "migrated"
// in and out), live migration (the world moves the VM; progress comes from the world) and the
// host-side socket of each VM's agent channel, which the world serves as QEMU's chardev would.
// Chosen by configuration like libvirt's test:/// driver: one fake for tests, the demo and benches.
import type { Clock } from '../../domain/clock.js';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import type {
  Hypervisor, MigrationOptions, SchedulerParams, VmEvent, VmInfo, VmStats,
} from '../../domain/ports/hypervisor.js';
import type { WorldHostInfo, WorldScheduler, WorldStats, WorldVm } from '../../protocol/sim.js';
import { parseSimUri, WorldClient } from './world-client.js';

/** Longest a migration request may wait for the world's answer, ms. */
const MIGRATE_TIMEOUT_MS = 600_000;

export interface SimHypervisorOptions {
  readonly uri: string;
  readonly clock: Clock;
  /** Request timeout, ms (default 5000). */
  readonly timeoutMs?: number;
}

function toInfo(v: WorldVm): VmInfo {
  return { uuid: v.uuid, name: v.name, state: v.state, vcpus: v.vcpus, memoryKiB: v.memoryKiB, maxMemoryKiB: v.memoryKiB };
}

export class SimHypervisor implements Hypervisor {
  readonly uri: string;
  readonly host: string;
  readonly client: WorldClient;

  constructor(o: SimHypervisorOptions) {
    const { host, world } = parseSimUri(o.uri);
    this.uri = o.uri;
    this.host = host;
    this.client = new WorldClient(world, host, o.clock, o.timeoutMs);
  }

  async hostInfo(): Promise<WorldHostInfo> {
    return await this.client.request<WorldHostInfo>('world.host');
  }

  async listVms(): Promise<VmInfo[]> {
    const { vms } = await this.client.request<{ vms: WorldVm[] }>('world.vms');
    return vms.map(toInfo);
  }

  async getVm(uuid: string): Promise<VmInfo> {
    const v = (await this.listVms()).find((x) => x.uuid === uuid.toLowerCase());
    if (!v) throw new VmanageError(ErrorCodes.VmNotFound, `VM ${uuid} is not on ${this.host}`, { vm: uuid, host: this.host });
    return v;
  }

  async stats(uuid: string): Promise<VmStats> {
    const s = await this.client.request<WorldStats>('world.stats', { vm: uuid });
    return { uuid, cpuTimeNs: s.cpuTimeNs, memory: { actualKiB: s.memoryKiB, rssKiB: s.memoryKiB }, timestamp: s.timestamp };
  }

  onEvent(listener: (e: VmEvent) => void): () => void {
    return this.client.events.on('event', (e) => {
      if (e.host !== this.host) return;
      listener({ uuid: e.uuid, name: e.name, kind: e.kind, detail: e.detail, ...(e.reason ? { reason: e.reason } : {}) });
    });
  }

  onReconnect(listener: () => void): () => void {
    return this.client.channel.events.on('connected', ({ resumed }) => { if (!resumed) listener(); });
  }

  async getScheduler(uuid: string): Promise<SchedulerParams> {
    return await this.client.request<WorldScheduler>('world.scheduler.get', { vm: uuid });
  }

  async setScheduler(uuid: string, params: SchedulerParams): Promise<void> {
    await this.client.request('world.scheduler.set', { vm: uuid, ...params });
  }

  /** destinationUri: the destination's sim:///HOST URI (same world). Progress comes from the
   *  world; an abort signal aborts it there (MIGRATION_ABORTED). */
  async migrate(uuid: string, opts: MigrationOptions): Promise<void> {
    const dest = parseSimUri(opts.destinationUri);
    if (dest.host === this.host) throw new VmanageError(ErrorCodes.MigrationFailed, `cannot migrate ${uuid} to its own host ${this.host}`, { vm: uuid });
    if (opts.signal?.aborted) throw new VmanageError(ErrorCodes.MigrationAborted, `migration of ${uuid} aborted before it started`, { vm: uuid });
    const off = this.client.events.on('progress', (p) => {
      if (p.host !== this.host || p.vm !== uuid.toLowerCase()) return;
      opts.onProgress?.({ uuid, elapsedMs: p.elapsedMs, dataTotalBytes: p.totalBytes, dataProcessedBytes: p.processedBytes, dataRemainingBytes: Math.max(0, p.totalBytes - p.processedBytes) });
    });
    const onAbort = (): void => void this.client.request('world.migrate-abort', { vm: uuid }).catch(() => { /* the migrate reply says how it ended */ });
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await this.client.request('world.migrate', {
        vm: uuid, to: dest.host,
        ...(opts.maxDowntimeMs !== undefined ? { maxDowntimeMs: opts.maxDowntimeMs } : {}),
        ...(opts.bandwidthMiBps !== undefined ? { bandwidthMiBps: opts.bandwidthMiBps } : {}),
      }, MIGRATE_TIMEOUT_MS);
    } finally {
      off();
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  async channelSocketPath(uuid: string): Promise<string | undefined> {
    const { path } = await this.client.request<{ path: string }>('world.channel', { vm: uuid });
    return path;
  }

  /** Every simulated VM has its agent channel: the existing socket is the answer. */
  async attachChannel(uuid: string): Promise<string> {
    const path = await this.channelSocketPath(uuid);
    if (!path) throw new VmanageError(ErrorCodes.Unsupported, `the simulated world gives ${uuid} no agent channel`, { vm: uuid });
    return path;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
