// libvirt connection URIs -> the libvirt-dbus connect object that serves them. libvirt-dbus
// exports one object per driver it opened: on the system bus /org/libvirt/QEMU is qemu:///system
// and /org/libvirt/Xen is xen:///system (libxl); on a session bus /org/libvirt/QEMU is
// qemu:///session and /org/libvirt/Test is the in-process test driver (test:///default).
import { ErrorCodes, VmanageError } from '../../domain/errors.js';
import type { BusKind } from './dbus-client.js';

export interface ConnectTarget {
  readonly uri: string;
  readonly bus: BusKind;
  /** Object path of the org.libvirt.Connect object, e.g. /org/libvirt/QEMU. */
  readonly path: string;
}

const table: Readonly<Record<string, Omit<ConnectTarget, 'uri'>>> = {
  'qemu:///system': { bus: 'system', path: '/org/libvirt/QEMU' },
  'qemu:///session': { bus: 'session', path: '/org/libvirt/QEMU' },
  'xen:///system': { bus: 'system', path: '/org/libvirt/Xen' },
  'xen:///': { bus: 'system', path: '/org/libvirt/Xen' },
  'libxl:///system': { bus: 'system', path: '/org/libvirt/Xen' },
  'test:///default': { bus: 'session', path: '/org/libvirt/Test' },
};

/** Maps a libvirt URI to its libvirt-dbus target; throws INVALID_INPUT for a URI libvirt-dbus does not serve. */
export function connectTarget(uri: string): ConnectTarget {
  const t = table[uri];
  if (!t) {
    throw new VmanageError(ErrorCodes.InvalidInput, `libvirt URI ${JSON.stringify(uri)} is not served by libvirt-dbus; expected one of ${Object.keys(table).join(', ')}`, { uri });
  }
  return { uri, ...t };
}

/**
 * libvirt-dbus names a domain object after its UUID: the connect path, "/domain/", then "_" and
 * the UUID with "-" replaced by "_" (virtDBusUtilBusPathForVirDomain). Encoding needs no call.
 */
export function domainPath(connectPath: string, uuid: string): string {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(uuid)) {
    throw new VmanageError(ErrorCodes.InvalidInput, `not a VM UUID: ${JSON.stringify(uuid)}`, { uuid });
  }
  return `${connectPath}/domain/_${uuid.toLowerCase().replaceAll('-', '_')}`;
}

/** The inverse of domainPath; undefined for a path that is not a domain object of this connection. */
export function uuidFromPath(connectPath: string, path: string): string | undefined {
  const prefix = `${connectPath}/domain/_`;
  if (!path.startsWith(prefix)) return undefined;
  const uuid = path.slice(prefix.length).replaceAll('_', '-');
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(uuid) ? uuid : undefined;
}
