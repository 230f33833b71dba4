// HostTable.update applies host.updates in place: VMs no longer listed go, a VM listed twice is
// counted once as a duplicate, and the peak read after an update (the 95th percentile of the VM's
// window) is the domain window's peak of the same samples, whatever the phase of the load.
import test from 'ava';
import { LeaderStore, openDatabase } from '../../src/adapters/store/index.js';
import { UtilWindow } from '../../src/domain/leader/demand.js';
import { hostAttributesOf } from '../../src/domain/leader/registration.js';
import { HostTable } from '../../src/daemons/leader/hosts.js';
import { storedRegistrationOf } from '../../src/daemons/leader/registration.js';
import type { HostUpdate } from '../../src/protocol/leader.js';

const uuid = (i: number): string => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

function table(t: { teardown(fn: () => void): void }) {
  const db = openDatabase(':memory:');
  t.teardown(() => db.close());
  const reg = storedRegistrationOf({ host: 'h1', cpus: 8, memoryKiB: 16 << 20, power: { idleWatts: 90, peakWatts: 200, measured: false }, reliability: 1, trust: 'standard', frequency: { minKHz: 1, maxKHz: 2 } });
  const tab = new HostTable();
  const host = tab.register(reg, hostAttributesOf(reg), 0, new LeaderStore(db));
  return { tab, host };
}

const upd = (vms: { i: number; util: number }[]): HostUpdate => ({
  ts: 1, budgetWatts: 150, budgetSource: 'leader', capKHz: 2, reliability: 1,
  vms: vms.map((v) => ({ uuid: uuid(v.i), cpuUtil: v.util, sla: 'ok' as const })),
});

test('an update keeps the VMs it lists, drops the others and counts a VM listed twice once', (t) => {
  const { tab, host } = table(t);
  t.is(tab.update(host, upd([{ i: 1, util: 0.1 }, { i: 2, util: 0.2 }, { i: 3, util: 0.3 }]), 1), 0);
  const vm2 = host.vms.get(uuid(2));
  t.is(tab.update(host, upd([{ i: 2, util: 0.5 }, { i: 4, util: 0.4 }, { i: 2, util: 0.9 }]), 2), 1);
  t.deepEqual([...host.vms.keys()].sort(), [uuid(2), uuid(4)]);
  t.is(host.vms.get(uuid(2)), vm2, 'the same VM state goes on (its utilisation window with it)');
  t.is(vm2?.cpuUtil, 0.5, 'the first entry wins');
  t.is(vm2?.window.size, 2);
  t.is(tab.update(host, upd([]), 3), 0);
  t.is(host.vms.size, 0);
});

test('through phases of rising and falling load the peak read after each update is the window\'s peak', (t) => {
  const { tab, host } = table(t);
  const domain = new UtilWindow(30);
  let seed = 7;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let k = 0; k < 400; k++) {
    // Phases of low, rising, high and falling load.
    const base = [0.1, 0.4, 0.9, 0.2][Math.floor(k / 25) % 4] as number;
    const util = Math.min(1, base + rnd() * 0.1);
    domain.push(util);
    tab.update(host, upd([{ i: 1, util }]), k);
    const vm = host.vms.get(uuid(1));
    if (!vm) return t.fail('VM gone');
    t.is(vm.peak, undefined, 'an update invalidates the cached peak');
    t.is(vm.peak ??= vm.window.peak(), domain.peak(), `sample ${k}`);
  }
});
