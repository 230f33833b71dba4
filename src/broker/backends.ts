// Actuator backends. The dry-run backend records what would be done and touches nothing: the
// policies and the actuator's rails run unchanged (no `if (dryRun)` anywhere else). The ports
// backend carries decisions out through the domain ports the daemon wires in; a kind with no
// port configured fails loudly with UNSUPPORTED.
import { UnsupportedError } from '../domain/errors.js';
import { QUOTA_PERIOD_US, type Decision } from '../domain/model.js';
import type { Hypervisor } from '../domain/ports/hypervisor.js';
import type { FrequencyActuator, PowerLimitActuator } from '../domain/ports/power.js';
import type { ActuatorBackend } from './actuator.js';

export class DryRunBackend implements ActuatorBackend {
  readonly name = 'dry-run';
  private readonly log: Decision[] = [];

  /** capacity: decisions remembered (oldest dropped first). */
  constructor(private readonly capacity = 1000) {}

  async apply(d: Decision): Promise<void> {
    this.log.push(d);
    if (this.log.length > this.capacity) this.log.shift();
  }

  /** What would have been done, oldest first. */
  get applied(): readonly Decision[] {
    return this.log;
  }
}

export interface PortsBackendOptions {
  readonly frequency?: FrequencyActuator;
  readonly powerLimit?: PowerLimitActuator;
  readonly hypervisor?: Pick<Hypervisor, 'setScheduler'>;
  /** Sends a migration request to the leader (over the leader M-channel). */
  readonly requestMigration?: (vm: string, shedWatts: number, d: Decision) => Promise<void>;
}

export function portsBackend(ports: PortsBackendOptions, name = 'ports'): ActuatorBackend {
  return {
    name,
    async apply(d: Decision): Promise<void> {
      switch (d.kind) {
        case 'set-frequency-cap':
          if (!ports.frequency) throw new UnsupportedError(name, 'set-frequency-cap (no frequency actuator)');
          return ports.frequency.setMaxFrequency(d.value);
        case 'set-power-limit':
          if (!ports.powerLimit) throw new UnsupportedError(name, 'set-power-limit (no power limit actuator)');
          return ports.powerLimit.setLimit(d.value);
        case 'set-vm-shares':
          if (!ports.hypervisor) throw new UnsupportedError(name, 'set-vm-shares (no hypervisor)');
          return ports.hypervisor.setScheduler(d.target, { cpuShares: d.value });
        case 'set-vm-quota':
          if (!ports.hypervisor) throw new UnsupportedError(name, 'set-vm-quota (no hypervisor)');
          return ports.hypervisor.setScheduler(d.target, { vcpuQuotaUs: d.value, vcpuPeriodUs: QUOTA_PERIOD_US });
        case 'request-migration':
          if (!ports.requestMigration) throw new UnsupportedError(name, 'request-migration (no leader channel)');
          return ports.requestMigration(d.target, d.value, d);
      }
    },
  };
}
