// The hypervisor port (VM side). The libvirt adapter (libvirt-dbus) and the simulated hypervisor
// implement it; optional capabilities throw UnsupportedError rather than doing nothing.
// Units: memory in KiB (as libvirt reports), CPU time in ns, durations in ms.
import type { SlaClass, TrustLevel } from '../cluster.js';

export type VmState = 'running' | 'paused' | 'shutoff' | 'shutdown' | 'crashed' | 'suspended' | 'blocked' | 'unknown';

export interface VmInfo {
  readonly uuid: string;
  readonly name: string;
  readonly state: VmState;
  readonly vcpus: number;
  readonly memoryKiB: number;
  readonly maxMemoryKiB: number;
  /** vmanage's placement metadata of the VM (libvirt: <metadata> in VM_METADATA_NS), when set. */
  readonly meta?: VmMeta;
}

/**
 * What the cluster leader needs to know about a VM that only its owner can say: its SLA class
 * and the least host reliability and trust it may run on. Written at creation by the leader's
 * placement or by the admin (virsh metadata); never taken from the guest (see docs/leader.md).
 */
export interface VmMeta {
  readonly slaClass?: SlaClass;
  /** 0..1 */
  readonly minReliability?: number;
  readonly minTrust?: TrustLevel;
}

/** XML namespace of vmanage's domain metadata element (<vmanage:vm sla=... minReliability=... minTrust=.../>). */
export const VM_METADATA_NS = 'https://vmanage.dev/xmlns/vm/1';

export interface VmStats {
  readonly uuid: string;
  /** Total CPU time consumed by the VM since it started, ns. */
  readonly cpuTimeNs: number;
  /** Per-vCPU time, ns, where the hypervisor reports it. */
  readonly vcpuTimeNs?: readonly number[];
  readonly memory: {
    readonly actualKiB?: number;
    readonly rssKiB?: number;
    readonly availableKiB?: number;
    readonly unusedKiB?: number;
  };
  /** When the stats were taken (ms since epoch). */
  readonly timestamp: number;
}

/** One VM's CPU time in a batch read (Hypervisor.cpuTimes). */
export interface VmCpuTime {
  /** Total CPU time since the VM started, ns; undefined where the driver keeps no CPU accounting. */
  readonly cpuTimeNs?: number;
  /** When it was read (ms since epoch). */
  readonly timestamp: number;
}

export type VmEventKind =
  | 'defined' | 'undefined' | 'started' | 'suspended' | 'resumed' | 'stopped' | 'shutdown'
  | 'pmsuspended' | 'crashed';

export interface VmEvent {
  readonly uuid: string;
  readonly name?: string;
  readonly kind: VmEventKind;
  /** libvirt's detail code, e.g. started/migrated; adapters map what they know to `reason`. */
  readonly detail: number;
  readonly reason?: string;
}

export interface SchedulerParams {
  /** Relative CPU weight (cgroup cpu.shares / cpu.weight semantics), unitless. */
  readonly cpuShares?: number;
  /** Per-vCPU bandwidth: quota µs per period µs; -1 or absent = unlimited. */
  readonly vcpuQuotaUs?: number;
  readonly vcpuPeriodUs?: number;
}

export interface MigrationOptions {
  /** Destination libvirt URI for peer-to-peer migration, e.g. qemu+tls://host-b/system. */
  readonly destinationUri: string;
  /** Optional migration transport URI, e.g. tcp://10.0.0.2. */
  readonly migrateUri?: string;
  /** Domain XML for the destination (e.g. a renamed channel socket path). */
  readonly destinationXml?: string;
  readonly bandwidthMiBps?: number;
  readonly maxDowntimeMs?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: MigrationProgress) => void;
}

export interface MigrationProgress {
  readonly uuid: string;
  readonly elapsedMs: number;
  readonly dataTotalBytes?: number;
  readonly dataProcessedBytes?: number;
  readonly dataRemainingBytes?: number;
}

export interface Hypervisor {
  readonly uri: string;
  listVms(): Promise<VmInfo[]>;
  getVm(uuid: string): Promise<VmInfo>;
  stats(uuid: string): Promise<VmStats>;
  /**
   * Optional: the CPU time of every running VM in one hypervisor call, by UUID (libvirt:
   * GetAllDomainStats, instead of stats() per VM: 2 calls each). A running VM missing from the
   * map has gone, or was defined after the adapter's last listing.
   */
  cpuTimes?(): Promise<ReadonlyMap<string, VmCpuTime>>;
  /** Subscribes to lifecycle events; returns an unsubscribe function. */
  onEvent(listener: (e: VmEvent) => void): () => void;
  /** Called after a reconnect to the hypervisor; the caller should re-read the inventory. */
  onReconnect?(listener: () => void): () => void;
  getScheduler(uuid: string): Promise<SchedulerParams>;
  setScheduler(uuid: string, params: SchedulerParams): Promise<void>;
  migrate(uuid: string, opts: MigrationOptions): Promise<void>;
  /** Host-side socket path of the vmanage guest channel (org.vmanage.agent.0), if the VM has one. */
  channelSocketPath(uuid: string): Promise<string | undefined>;
  /** Hot-attaches the vmanage channel to a running VM that lacks it; returns its socket path. */
  attachChannel(uuid: string, socketPath: string): Promise<string>;
  /**
   * Optional: defines the VM from domain XML, writes `meta` as its vmanage metadata and starts it;
   * if it cannot be started it is undefined again (nothing is left behind). Errors: INVALID_INPUT
   * (XML refused), the hypervisor's refusal, HYPERVISOR_UNAVAILABLE.
   */
  createVm?(xml: string, meta: VmMeta): Promise<VmInfo>;
  close(): Promise<void>;
}

export const AGENT_CHANNEL_NAME = 'org.vmanage.agent.0';
