// The libvirt adapter: the Hypervisor port (src/domain/ports/hypervisor.ts) over libvirt-dbus.
//
//   const hv = new LibvirtHypervisor({ uri: 'qemu:///system', busAddress?, callTimeoutMs?, clock?, log? });
//   await hv.connect();                       // optional: subscribes to DomainEvent at once
//   await hv.listVms();                       // [{uuid, name, state, vcpus, memoryKiB, maxMemoryKiB}]
//   await hv.stats(uuid);                     // {cpuTimeNs, vcpuTimeNs?, memory {actualKiB, rssKiB, ...}}
//   hv.onEvent((e) => ...);                   // {uuid, name?, kind: 'started'|..., detail, reason?: 'migrated'|...}
//   hv.onReconnect(() => hv.listVms());       // libvirt-dbus, the bus or libvirtd came back: re-read
//   await hv.getScheduler(uuid); await hv.setScheduler(uuid, { cpuShares, vcpuQuotaUs, vcpuPeriodUs });
//   await hv.migrate(uuid, { destinationUri, migrateUri?, destinationXml?, bandwidthMiBps?, maxDowntimeMs?,
//                            signal?, onProgress?, persistDest?, undefineSource?, autoConverge?, progressIntervalMs? });
//   await hv.channelSocketPath(uuid); await hv.attachChannel(uuid, '/run/vmanage/vms/<uuid>.sock');
//   hv.counters, hv.dbusCounters;             // for metrics
//   await hv.close();
//
// URIs: qemu:///system and xen:///system (system bus), test:///default and qemu:///session
// (session bus). Errors are VmanageError: VM_NOT_FOUND, UNSUPPORTED, INVALID_INPUT,
// HYPERVISOR_UNAVAILABLE, PERMISSION_DENIED, MIGRATION_FAILED, MIGRATION_ABORTED.
export { LibvirtHypervisor, type LibvirtHypervisorOptions } from './hypervisor.js';
export type { LibvirtMigrationOptions } from './migrate.js';
export { migrationFlags } from './migrate.js';
export { connectTarget, domainPath, uuidFromPath } from './uri.js';
export {
  channelDeviceXml, channelSocketPathOf, domainIdentity, domainSummary, expandPathTemplate, parseDomainXml,
  rewriteChannelPath,
} from './domain-xml.js';
export { mapLifecycleEvent, mapState } from './events.js';
