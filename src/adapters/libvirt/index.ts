// The libvirt adapter: the Hypervisor port over libvirt-dbus. See hypervisor.ts.
export { LibvirtHypervisor, type LibvirtHypervisorOptions } from './hypervisor.js';
export type { LibvirtMigrationOptions } from './migrate.js';
export { migrationFlags } from './migrate.js';
export { connectTarget, domainPath, uuidFromPath } from './uri.js';
export {
  channelDeviceXml, channelSocketPathOf, domainIdentity, domainSummary, expandPathTemplate, parseDomainXml,
  rewriteChannelPath,
} from './domain-xml.js';
export { mapLifecycleEvent, mapState } from './events.js';
