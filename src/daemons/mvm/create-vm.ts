// The leader's create-vm command (host side): define the domain XML the leader's placement chose
// this host for, with the vmanage metadata (SLA class, least reliability and trust) from the
// placement request, and start it, through the hypervisor port. The answer says whether the VM
// runs (with its UUID) or why not (the XML refused, libvirt's error); a VM that could not be
// started is not left defined (the adapter undefines it). At most MAX_CONCURRENT creations at once;
// the others are refused at once (the leader reports the refusal). The XML is untrusted input:
// the adapter checks it (size, no DTD, one <domain>, a name, a UUID that is no VM here yet).
import type { Logger } from 'pino';
import type { CommandReply, CreateVmCommand } from '../../adapters/leader-link/link.js';
import { isVmanageError } from '../../domain/errors.js';
import type { Hypervisor } from '../../domain/ports/hypervisor.js';

export interface CreateVmCounters { created: number; failed: number; refused: number }

export interface CreateVmHandler {
  readonly counters: CreateVmCounters;
  handle(c: CreateVmCommand): Promise<CommandReply>;
}

const MAX_CONCURRENT = 2;

export function createVmHandler(o: { hypervisor: Hypervisor; log: Logger; created?: (uuid: string) => void }): CreateVmHandler {
  const counters: CreateVmCounters = { created: 0, failed: 0, refused: 0 };
  let inFlight = 0;
  return {
    counters,
    async handle(c) {
      const hv = o.hypervisor;
      if (!hv.createVm) {
        counters.refused++;
        return { done: false, reason: `this host's hypervisor (${hv.uri}) cannot create VMs` };
      }
      if (inFlight >= MAX_CONCURRENT) {
        counters.refused++;
        return { done: false, reason: `${inFlight} VM creation(s) under way (at most ${MAX_CONCURRENT} at once)` };
      }
      inFlight++;
      const meta = { slaClass: c.slaClass, ...(c.minReliability !== undefined ? { minReliability: c.minReliability } : {}), ...(c.minTrust !== undefined ? { minTrust: c.minTrust } : {}) };
      try {
        const vm = await hv.createVm(c.xml, meta);
        counters.created++;
        o.log.info({ event: 'vm.created', vm: vm.uuid, name: vm.name, state: vm.state, decisionId: c.decisionId, ...meta }, `VM ${vm.name} created on the leader's placement`);
        o.created?.(vm.uuid);
        return { done: true, vm: vm.uuid, reason: `VM ${vm.name} (${vm.uuid}) defined and ${vm.state}` };
      } catch (err) {
        counters.failed++;
        const code = isVmanageError(err) ? err.code : 'INTERNAL';
        const reason = `${code}: ${err instanceof Error ? err.message : String(err)}`.slice(0, 1024);
        o.log.warn({ event: 'vm.create-failed', decisionId: c.decisionId, reason }, 'VM creation on the leader\'s placement failed');
        return { done: false, reason };
      } finally {
        inFlight--;
      }
    },
  };
}
