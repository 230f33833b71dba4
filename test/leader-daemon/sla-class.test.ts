// A VM's SLA class and placement requirements, as its host reports them (host.update's optional
// slaClass / minReliability / minTrust, from the VM's vmanage metadata), reach the leader's views
// and its migration planner: of two VMs that would relieve an overloaded host equally, the one
// whose class costs least to disturb is moved (bronze before silver before gold; a host that
// reports no class means silver), and a running VM is never moved to a host below the trust it
// requires. The leader runs in-process; the hosts are the real LeaderLink.
import test from 'ava';
import { systemClock } from '../../src/adapters/clock.js';
import { LeaderLink } from '../../src/adapters/leader-link/link.js';
import type { SlaClass, TrustLevel } from '../../src/domain/cluster.js';
import type { HostUpdate } from '../../src/protocol/leader.js';
import { waitFor, type Teardown } from '../support/proc.js';
import { leaderConfig, quiet, registration, splitCovers, startTestLeader, uuidOf, type MemoryHub } from './support.js';

interface ClassedVm { uuid: string; slaClass?: SlaClass; minTrust?: TrustLevel }

/** A host whose four-vCPU VMs are fully busy, reporting each VM's class when it has one. */
function startHost(t: Teardown, hub: MemoryHub, host: string, vms: ClassedVm[], cpus = 8): LeaderLink {
  let budget = 0;
  const update = (): HostUpdate => ({
    ts: Date.now(), watts: 150, budgetWatts: budget || 200, budgetSource: budget ? 'leader' : 'config', capKHz: 3_000_000, reliability: 1,
    vms: vms.map((v) => ({
      uuid: v.uuid, cpuUtil: 1, sla: 'ok' as const, vcpus: 4, memoryKiB: 2 << 20,
      ...(v.slaClass !== undefined ? { slaClass: v.slaClass } : {}), ...(v.minTrust !== undefined ? { minTrust: v.minTrust } : {}),
    })),
  });
  const link = new LeaderLink({
    connector: hub.connector(host), host, clock: systemClock, log: quiet, updateMs: 50,
    registration: () => registration(host, { cpus }), update, onBudget: (w) => { budget = w; }, onConnection: () => {},
    heartbeatMs: 200, deadAfterMs: 1000, refusedPauseMs: 100,
  });
  t.teardown(() => link.stop());
  return link;
}

const A = uuidOf(0xa);
const B = uuidOf(0xb);

const cases: { title: string; vms: ClassedVm[]; moved: string }[] = [
  { title: 'the bronze VM is moved before the gold one', vms: [{ uuid: A, slaClass: 'gold' }, { uuid: B, slaClass: 'bronze' }], moved: B },
  { title: 'classes swapped, the other VM is moved', vms: [{ uuid: A, slaClass: 'bronze' }, { uuid: B, slaClass: 'gold' }], moved: A },
  { title: 'a VM without a reported class counts as silver, before gold', vms: [{ uuid: A, slaClass: 'gold' }, { uuid: B }], moved: B },
  { title: 'a bronze VM that needs an attested host stays; the gold one moves to the trusted host', vms: [{ uuid: A, slaClass: 'bronze', minTrust: 'attested' }, { uuid: B, slaClass: 'gold' }], moved: B },
];

for (const c of cases) {
  test(`an overloaded host sheds by SLA class: ${c.title}`, async (t) => {
    const { leader, hub } = await startTestLeader(t, await leaderConfig(t));
    // h1 is short of CPU (8 busy vCPUs on 6 CPUs): relieved at once; either VM alone is enough.
    const links = [startHost(t, hub, 'h1', c.vms, 6), startHost(t, hub, 'h2', [])];
    await waitFor('registrations', () => links.every((l) => l.registered));
    await splitCovers(leader, 2);
    await waitFor('the VMs with their classes', () => {
      const vms = leader.vms();
      return vms.length === 2 && c.vms.every((v) => vms.find((x) => x.uuid === v.uuid)?.slaClass === (v.slaClass ?? 'silver'));
    });
    const withTrust = c.vms.find((v) => v.minTrust !== undefined);
    if (withTrust) t.is(leader.vms().find((v) => v.uuid === withTrust.uuid)?.minTrust, withTrust.minTrust);
    const plan = await leader.plan({ dryRun: true });
    const moves = plan.decisions.filter((d) => d.kind === 'migrate-vm');
    t.is(moves.length, 1, JSON.stringify(plan));
    t.like(moves[0], { target: c.moved, from: 'h1', to: 'h2' });
  });
}
