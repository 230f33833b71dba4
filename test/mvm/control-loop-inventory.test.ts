// The control loop's view of the VMs: a full listing (2 hypervisor calls per defined domain) at
// start, on hypervisor events and every 5 s; in between, each read interval samples only the
// running VMs' CPU time, in one batch call (GetAllDomainStats) rather than per VM. Real peer: libvirt's test driver behind libvirt-dbus; the hypervisor
// adapter is the daemon's own, wrapped to record when it is called.
import test from 'ava';
import { pino } from 'pino';
import { LibvirtHypervisor } from '../../src/adapters/libvirt/index.js';
import type { Hypervisor } from '../../src/domain/ports/hypervisor.js';
import { waitFor } from '../support/proc.js';
import { startSimLoop } from './sim-loop.js';
import { startLibvirt } from './support.js';

test('between full VM listings (every 5 s) each read interval only samples the running VMs\' CPU time, in one batch call', async (t) => {
  const lv = await startLibvirt(t);
  const log = pino({ level: 'silent' });
  const real = new LibvirtHypervisor({ uri: 'test:///default', busAddress: lv.ld.address, log });
  t.teardown(() => real.close());
  const listed: number[] = [];
  const sampled: number[] = [];
  const perVm: number[] = [];
  const hv = new Proxy(real, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        if (prop === 'listVms') listed.push(performance.now());
        if (prop === 'cpuTimes') sampled.push(performance.now());
        if (prop === 'stats') perVm.push(performance.now());
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as Hypervisor;
  const loop = await startSimLoop(t, hv, { readIntervalMs: 100, simUtilisation: 0.5 });
  // Two periodic listings after the one at start; no VM changes meanwhile, so no event-driven one.
  await waitFor('three listings', () => listed.length >= 3, 60_000, 50);
  await loop.stop();
  for (let i = 1; i < listed.length; i++) {
    const gap = (listed[i] as number) - (listed[i - 1] as number);
    t.true(gap >= 4990, `listing ${i} came ${gap.toFixed(0)} ms after the one before (expected >= 5000)`);
    const between = sampled.filter((s) => s > (listed[i - 1] as number) + 1 && s < (listed[i] as number)).length;
    t.true(between >= 2, `only ${between} CPU samples between listings ${i - 1} and ${i}`);
  }
  t.is(perVm.length, 0, 'no per-VM stats call while the adapter reads every VM in one call');
});
