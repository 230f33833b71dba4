// The leader's power-off command (consolidation), host side. Refused unless the configuration
// allows it (power.allowPowerOff, default false), while a leader-ordered migration is under way,
// and while any VM still runs here; otherwise the host asks its power control (logind) to shut
// the machine down. The reply says which of these stopped it.
import type { Logger } from 'pino';
import { isVmanageError } from '../../domain/errors.js';
import type { Hypervisor } from '../../domain/ports/hypervisor.js';
import type { HostPowerControl } from '../../domain/ports/power.js';
import type { CommandReply } from '../../adapters/leader-link/link.js';

export interface PowerOffOptions {
  readonly allowed: boolean;
  readonly hypervisor: Hypervisor;
  /** Created on first use (a host that never powers off never opens the system bus). */
  readonly control: () => HostPowerControl;
  /** Migrations under way. */
  readonly migrating: () => number;
  readonly log: Logger;
}

/** VM states that count as "still runs here". */
const ALIVE = new Set(['running', 'paused', 'blocked', 'suspended', 'unknown']);

export function powerOffHandler(o: PowerOffOptions): () => Promise<CommandReply> {
  let control: HostPowerControl | undefined;
  return async () => {
    if (!o.allowed) return { done: false, reason: 'power-off is not allowed on this host (power.allowPowerOff is false)' };
    if (o.migrating() > 0) return { done: false, reason: `${o.migrating()} migration(s) under way` };
    let alive: string[];
    try {
      alive = (await o.hypervisor.listVms()).filter((v) => ALIVE.has(v.state)).map((v) => v.name);
    } catch (err) {
      return { done: false, reason: `cannot list the VMs: ${err instanceof Error ? err.message : String(err)}` };
    }
    if (alive.length > 0) return { done: false, reason: `${alive.length} VM(s) still run here: ${alive.slice(0, 8).join(', ')}` };
    try {
      control ??= o.control();
      await control.powerOff();
    } catch (err) {
      const code = isVmanageError(err) ? err.code : 'UNAVAILABLE';
      o.log.warn({ event: 'host.power-off-failed', code, err: String(err) }, 'power-off refused by the host');
      return { done: false, reason: `${code}: ${err instanceof Error ? err.message : String(err)}`.slice(0, 1024) };
    }
    o.log.warn({ event: 'host.power-off' }, 'powering the host off on the leader\'s order');
    return { done: true };
  };
}
