// Host power-off through systemd-logind (org.freedesktop.login1.Manager.PowerOff(b interactive))
// on the system bus. Only powerOff: status and power-on come from the BMC (IPMI chassis), so
// those two fail loudly as UNSUPPORTED. interactive=false: a daemon cannot answer a polkit
// prompt; logind then refuses (AccessDenied / InteractiveAuthorizationRequired) instead of asking.
import dbus from 'dbus-next';
import type { MessageBus } from 'dbus-next';
import { ErrorCodes, UnsupportedError, VmanageError, type ErrorCode } from '../../domain/errors.js';
import type { ChassisPowerState, HostPowerControl } from '../../domain/ports/power.js';
import { disconnectBus } from './powerd-client-protocol.js';

export const LOGIN1_NAME = 'org.freedesktop.login1';
export const LOGIN1_PATH = '/org/freedesktop/login1';
export const LOGIN1_MANAGER = 'org.freedesktop.login1.Manager';

export interface LogindOptions {
  /** A connected bus; default: the system bus (DBUS_SYSTEM_BUS_ADDRESS honoured). */
  readonly bus?: MessageBus;
  /** Deadline for logind's answer, ms. Default 5000. */
  readonly timeoutMs?: number;
}

function codeFor(name: string): ErrorCode {
  if (name.endsWith('.AccessDenied') || name.endsWith('.InteractiveAuthorizationRequired')) return ErrorCodes.PermissionDenied;
  if (name === 'org.freedesktop.DBus.Error.ServiceUnknown' || name === 'org.freedesktop.DBus.Error.NameHasNoOwner') return ErrorCodes.Unavailable;
  if (name === 'org.freedesktop.DBus.Error.NoReply' || name === 'org.freedesktop.DBus.Error.Timeout') return ErrorCodes.Timeout;
  return ErrorCodes.Unavailable; // e.g. org.freedesktop.login1.OperationInProgress, BlockedByInhibitor...
}

export class LogindPowerControl implements HostPowerControl {
  /** Connected on first use: a host that never powers off never opens the system bus. */
  private bus?: MessageBus;
  private readonly timeoutMs: number;

  constructor(private readonly options: LogindOptions = {}) {
    this.bus = options.bus;
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  async status(): Promise<ChassisPowerState> {
    throw new UnsupportedError('logind', 'power status (use IPMI chassis status)');
  }

  async powerOn(): Promise<void> {
    throw new UnsupportedError('logind', 'power on (use IPMI chassis power on)');
  }

  /** Asks logind to power the host off; resolves when logind accepted the request. */
  async powerOff(): Promise<void> {
    const msg = new dbus.Message({
      destination: LOGIN1_NAME, path: LOGIN1_PATH, interface: LOGIN1_MANAGER, member: 'PowerOff', signature: 'b', body: [false],
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.connection().call(msg),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new VmanageError(ErrorCodes.Timeout, `logind PowerOff: no answer within ${this.timeoutMs} ms`, {})), this.timeoutMs);
        }),
      ]);
    } catch (err) {
      if (err instanceof VmanageError) throw err;
      if (err instanceof dbus.DBusError) throw new VmanageError(codeFor(err.type), `logind PowerOff: ${err.type}: ${err.text}`, { dbusError: err.type }, { cause: err });
      throw new VmanageError(ErrorCodes.Unavailable, `logind PowerOff: ${(err as Error).message}`, {}, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Our own bus, reopened after it failed (dbus-daemon restart): an 'error' never goes unheard. */
  private connection(): MessageBus {
    if (this.bus) return this.bus;
    const bus = dbus.systemBus();
    bus.on('error', () => {
      if (this.bus === bus) this.bus = undefined;
    });
    this.bus = bus;
    return bus;
  }

  async close(): Promise<void> {
    if (!this.options.bus && this.bus) await disconnectBus(this.bus);
  }
}
