// The control loop's CPU use per VM from the hypervisor's batch read (Hypervisor.cpuTimes): the
// use over each read interval from the CPU-time deltas, and a VM missing from the batch (gone
// between two listings) makes the loop list the VMs again. The hypervisor here is a scripted
// double of the port (the real batch read is tested on libvirt in test/libvirt/). A hypervisor
// that cannot read every VM at once (UNSUPPORTED) is read VM by VM from then on.
import test, { type ExecutionContext } from 'ava';
import { ErrorCodes, VmanageError } from '../../src/domain/errors.js';
import type { Hypervisor, VmCpuTime, VmInfo, VmStats } from '../../src/domain/ports/hypervisor.js';
import type { ControlLoop } from '../../src/daemons/mvm/control-loop.js';
import { waitFor } from '../support/proc.js';
import { startSimLoop } from './sim-loop.js';

const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';

function vm(uuid: string, name: string, vcpus: number): VmInfo {
  return { uuid, name, state: 'running', vcpus, maxMemoryKiB: 1024 } as unknown as VmInfo;
}

/** A hypervisor whose VMs burn CPU at a fixed share of their vCPUs (by the wall clock). */
function scripted(share: Map<string, number>, vms: VmInfo[]): { hv: Hypervisor; listings: () => number; drop: (uuid: string) => void } {
  const start = Date.now();
  let listings = 0;
  let running = [...vms];
  const hv = {
    uri: 'scripted:///',
    listVms: async () => { listings++; return running; },
    cpuTimes: async (): Promise<ReadonlyMap<string, VmCpuTime>> => {
      const now = Date.now();
      return new Map(running.map((v) => [v.uuid, { cpuTimeNs: Math.round((now - start) * 1e6 * v.vcpus * (share.get(v.uuid) ?? 0)), timestamp: now }]));
    },
    stats: async () => { throw new Error('stats() per VM must not be called when cpuTimes exists'); },
    onEvent: () => () => undefined,
  } as unknown as Hypervisor;
  return { hv, listings: () => listings, drop: (uuid) => { running = running.filter((v) => v.uuid !== uuid); } };
}

async function loopWith(t: ExecutionContext, hv: Hypervisor): Promise<ControlLoop> {
  return await startSimLoop(t, hv, { readIntervalMs: 100 });
}

test('each VM\'s CPU use comes from the batch read\'s CPU-time deltas, per vCPU', async (t) => {
  const { hv } = scripted(new Map([[A, 0.5], [B, 0.25]]), [vm(A, 'a', 1), vm(B, 'b', 4)]);
  const loop = await loopWith(t, hv);
  const util = (uuid: string): number | undefined => loop.builder.build().vms.find((v) => v.uuid === uuid)?.cpuUtil;
  await waitFor('both VMs sampled twice', () => (util(A) ?? 0) > 0 && (util(B) ?? 0) > 0, 10_000, 20);
  t.true(Math.abs((util(A) as number) - 0.5) < 0.1, `a: ${util(A)}`);
  t.true(Math.abs((util(B) as number) - 0.25) < 0.1, `b: ${util(B)}`);
});

test('a VM missing from the batch read (gone since the last listing) makes the loop list the VMs again', async (t) => {
  const s = scripted(new Map([[A, 0.5], [B, 0.5]]), [vm(A, 'a', 1), vm(B, 'b', 1)]);
  const loop = await loopWith(t, s.hv);
  await waitFor('both VMs in the snapshot', () => loop.builder.build().vms.length === 2 || undefined, 10_000, 20);
  const before = s.listings();
  s.drop(B);
  await waitFor('a new listing', () => s.listings() > before || undefined, 4000, 20);
  await waitFor('b gone from the snapshot', () => loop.builder.build().vms.every((v) => v.uuid !== B) || undefined, 4000, 20);
  t.pass();
});

test('a hypervisor without the batch read (UNSUPPORTED) is asked once, then read VM by VM', async (t) => {
  let batchCalls = 0;
  let perVm = 0;
  const start = Date.now();
  const hv = {
    uri: 'scripted:///',
    listVms: async () => [vm(A, 'a', 2)],
    cpuTimes: async (): Promise<ReadonlyMap<string, VmCpuTime>> => {
      batchCalls++;
      throw new VmanageError(ErrorCodes.Unsupported, 'this function is not supported by the connection driver: virConnectGetAllDomainStats', {});
    },
    stats: async (uuid: string): Promise<VmStats> => {
      perVm++;
      const now = Date.now();
      return { uuid, cpuTimeNs: Math.round((now - start) * 1e6 * 2 * 0.5), memory: {}, timestamp: now };
    },
    onEvent: () => () => undefined,
  } as unknown as Hypervisor;
  const loop = await loopWith(t, hv);
  await waitFor('a\'s CPU use from stats()', () => Math.abs((loop.builder.build().vms[0]?.cpuUtil ?? 0) - 0.5) < 0.1 || undefined, 10_000, 20);
  await waitFor('more per-VM reads', () => perVm >= 5 || undefined, 10_000, 20);
  t.is(batchCalls, 1);
});
