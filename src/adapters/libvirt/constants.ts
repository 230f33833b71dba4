// Numeric flags of the libvirt C API that libvirt-dbus passes through unchanged (libvirt-domain.h).

/** virDomainMigrateFlags. */
export const MigrateFlags = {
  LIVE: 1 << 0,
  PEER2PEER: 1 << 1,
  TUNNELLED: 1 << 2,
  PERSIST_DEST: 1 << 3,
  UNDEFINE_SOURCE: 1 << 4,
  ABORT_ON_ERROR: 1 << 12,
  AUTO_CONVERGE: 1 << 13,
} as const;

/** virDomainModificationImpact. */
export const Affect = { CURRENT: 0, LIVE: 1, CONFIG: 2 } as const;

/** virDomainStatsTypes. */
export const StatsTypes = { STATE: 1, CPU_TOTAL: 2, BALLOON: 4, VCPU: 8 } as const;

/** virConnectGetAllDomainStatsFlags used here: active domains only; NOWAIT: a domain busy in a
 *  job (a migration) reports what it can at once instead of making the call wait for the job. */
export const AllStatsFlags = { ACTIVE: 1, NOWAIT: 1 << 29 } as const;

/** virDomainMemoryStatTags: index -> name. */
export const MemoryStatTags = {
  UNUSED: 4,
  AVAILABLE: 5,
  ACTUAL_BALLOON: 6,
  RSS: 7,
} as const;

/** virDomainJobType: 0 none, 1 bounded, 2 unbounded, 3 completed, 4 failed, 5 cancelled. */
export const JobType = { NONE: 0, BOUNDED: 1, UNBOUNDED: 2, COMPLETED: 3, FAILED: 4, CANCELLED: 5 } as const;
