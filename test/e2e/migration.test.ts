// The whole host path on real parts: libvirtd + a QEMU TCG VM built by scripts/build-guest.sh,
// the guest agent speaking over real virtio-serial, libvirt hooks reaching the host daemon, and
// live migrations back and forth between two libvirtd hosts while the agent streams numbered SLA
// reports (and one host daemon restart): the two host daemons must see every report exactly
// once, in order.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { LibvirtHypervisor } from '../../src/adapters/libvirt/index.js';
import { waitFor } from '../support/proc.js';
import { buildGuest, newVmSpec, testVm, type TestVm } from '../support/vm.js';
import { startStacks, type HostStack } from './lib/stack.js';
import { verdict, type Seen } from './lib/reports.js';

const MIGRATIONS = Number(process.env.VMANAGE_E2E_MIGRATIONS ?? 4);

// A probe that prints 1, 2, 3... (a counter kept in the guest's /tmp): the report number.
const counterProbe = ['/bin/sh', '-c', 'n=$(cat /tmp/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /tmp/n; echo $n'];
const agentConfig = {
  heartbeatMs: 1000,
  reportMs: 250,
  objectives: [{ name: 'report-number', source: 'probe', kind: 'value', command: counterProbe, op: '>=', target: 0, unit: 'n' }],
};

function reportsOf(stacks: readonly HostStack[], vm: string): Seen[] {
  const seen: Seen[] = [];
  for (const s of stacks) {
    for (const l of s.lines()) {
      if (l.event !== 'sla.report' || l.vm !== vm) continue;
      const measured = l.measured as { value: number };
      seen.push({ n: measured.value, host: s.host.name, time: l.time, seq: Number(l.seq), stale: l.stale === true });
    }
  }
  // Each daemon's lines are in its receive order; across daemons the host clock orders them (ms;
  // the session's sequence number, continuous across handovers, breaks ties).
  return seen.sort((a, b) => a.time - b.time || a.seq - b.seq);
}

async function migrate(vm: TestVm, from: HostStack, to: HostStack): Promise<number> {
  const hv = new LibvirtHypervisor({ uri: 'qemu:///system', busAddress: from.busAddress });
  const t0 = Date.now();
  try {
    await hv.migrate(vm.spec.uuid, {
      destinationUri: to.host.p2pUri, migrateUri: `tcp://${to.host.address}`, persistDest: true, undefineSource: true,
      destinationXml: (await from.host.virsh('dumpxml', '--migratable', vm.spec.name)).split(vm.paths(from.host).channel).join(vm.paths(to.host).channel)
        .split(vm.paths(from.host).console).join(vm.paths(to.host).console),
    } as Parameters<LibvirtHypervisor['migrate']>[1]);
  } finally {
    await hv.close();
  }
  return Date.now() - t0;
}

/** The host where the guest's console shows a kernel oops or panic, if any. */
function guestOops(vm: TestVm, s: HostStack): string | undefined {
  try {
    const c = readFileSync(vm.paths(s.host).console, 'utf8');
    return /Kernel panic|---\[ end trace|BUG: /.test(c) ? `host ${s.host.name}: ${/(BUG: [^\n]*|Kernel panic[^\n]*|RIP: [^\n]*)/.exec(c)?.[1] ?? 'oops'}` : undefined;
  } catch {
    return undefined;
  }
}

/** On failure: what the guest console and both daemons said last (the cause is usually there). */
function diagnostics(vm: TestVm, stacks: readonly HostStack[]): string {
  const tail = (s: string, n: number): string => s.split('\n').slice(-n).join('\n');
  const consoles = stacks.map((s) => {
    try {
      return `--- console on ${s.host.name}:\n${tail(readFileSync(vm.paths(s.host).console, 'utf8'), 25)}`;
    } catch {
      return `--- no console on ${s.host.name}`;
    }
  });
  const logs = stacks.map((s) => `--- host daemon ${s.host.name}:\n${s.lines().filter((l) => l.event !== 'sla.report').slice(-25).map((l) => JSON.stringify(l).slice(0, 400)).join('\n')}`);
  return [...consoles, ...logs].join('\n');
}

test('SLA reports reach the host daemons exactly once and in order across live migrations', async (t) => {
  const image = await buildGuest();
  const { a, b } = await startStacks(t);
  const vm = testVm(newVmSpec(image, agentConfig));
  t.teardown(async () => { await vm.destroy(a.host); await vm.destroy(b.host); });
  let ok = false;
  t.teardown(async () => {
    if (ok) return;
    const states = await Promise.all([a, b].map((s) => s.host.virsh('domstate', '--reason', vm.spec.name).then((x) => `${s.host.name}: ${x.trim()}`, () => `${s.host.name}: (not there)`)));
    t.log(`VM state: ${states.join('; ')}\n${diagnostics(vm, [a, b])}`);
  });
  const uuid = vm.spec.uuid;

  const t0 = Date.now();
  await vm.start(a.host);
  const startReturnedS = (Date.now() - t0) / 1000;
  const first = await waitFor('the first SLA report at host daemon A', () => a.lines().find((l) => l.event === 'sla.report' && l.vm === uuid), 120_000, 50);
  const bootToReportS = (first.time - t0) / 1000;
  const connected = a.lines().find((l) => l.event === 'guest.session' && l.vm === uuid && l.change === 'connected');
  const agentStarted = /"time":"([^"]+)","level":"info","name":"vmanage-agent","msg":"agent started"/.exec(readFileSync(vm.paths(a.host).console, 'utf8'))?.[1];
  const breakdown = `virsh start returned ${startReturnedS.toFixed(1)} s, agent started ${agentStarted ? ((Date.parse(agentStarted) - t0) / 1000).toFixed(1) : '?'} s (guest clock), session connected ${connected ? ((connected.time - t0) / 1000).toFixed(1) : '?'} s`;

  // Hooks: libvirtd ran hooks/qemu.d/vmanage, which reached host daemon A.
  const hookOps = a.lines().filter((l) => l.event === 'hook' && l.vm === uuid).map((l) => `${String(l.operation)}/${String(l.subOperation)}`);
  t.true(['prepare/begin', 'start/begin', 'started/begin'].every((op) => hookOps.includes(op)), `hook events at A: ${hookOps.join(', ')}`);

  const stacks = [a, b];
  const durations: number[] = [];
  let here = a;
  let there = b;
  const resumes = (s: HostStack): number => s.lines().filter((l) => l.event === 'guest.session' && l.vm === uuid && l.change === 'resumed-from-handover').length;
  const flowing = async (what: string): Promise<void> => {
    const before = reportsOf(stacks, uuid).length;
    await waitFor(`reports flowing ${what}`, () => {
      // Say so plainly when the guest kernel itself died (seen rarely after TCG live migrations).
      const oops = stacks.map((s) => guestOops(vm, s)).find(Boolean);
      if (oops) throw new Error(`the guest kernel crashed on ${oops}`);
      return reportsOf(stacks, uuid).length >= before + 4;
    }, 60_000, 100);
  };
  for (let i = 0; i < MIGRATIONS; i++) {
    await flowing(`before migration ${i + 1}`);
    const resumedBefore = resumes(there);
    durations.push(await migrate(vm, here, there));
    [here, there] = [there, here];
    await waitFor(`the session to resume on ${here.host.name}`, () => resumes(here) > resumedBefore, 60_000, 100);
    if (i === 1) {
      // The host daemon restarts while the agent streams: it saves the session and resumes it.
      await flowing('before the daemon restart');
      const before = resumes(here);
      await here.restartMvm();
      await waitFor('the restarted daemon to resume the session', () => resumes(here) > before, 60_000, 100);
    }
  }
  // Let the last host receive a few more, then stop the stream and count.
  const settled = reportsOf(stacks, uuid).length;
  await waitFor('reports after the last migration', () => reportsOf(stacks, uuid).length >= settled + 8, 60_000, 100);
  await vm.destroy(here.host);
  const stopOps = await waitFor('the stop hooks', () => {
    const ops = here.lines().filter((l) => l.event === 'hook' && l.vm === uuid).map((l) => `${String(l.operation)}/${String(l.subOperation)}`);
    return ops.includes('stopped/end') && ops.includes('release/end') ? ops : undefined;
  }, 15_000);
  t.truthy(stopOps);

  const v = verdict(reportsOf(stacks, uuid));
  const timeouts = [a, b].flatMap((s) => s.lines().filter((l) => l.event === 'guest.session' && l.change === 'handover-timeout'));
  t.log(`reports lost: ${v.lost}, duplicated: ${v.duplicated}, migrations: ${MIGRATIONS} (and 1 host daemon restart)`);
  t.log(`seconds from virsh start to the first SLA report at the host daemon: ${bootToReportS.toFixed(1)} (${breakdown})`);
  t.log(`reports: ${v.count} (numbers ${v.first}..${v.last}), out of order: ${v.outOfOrder}, stale (held by QEMU): ${v.stale}, migration ms: ${durations.join(', ')}`);
  console.log(`reports lost: ${v.lost}, duplicated: ${v.duplicated}, migrations: ${MIGRATIONS}`);
  console.log(`seconds from virsh start to the first SLA report at the host daemon: ${bootToReportS.toFixed(1)}`);
  t.is(timeouts.length, 0, 'no destination fell back to a new session');
  t.is(v.first, 1);
  t.is(v.lost, 0);
  t.is(v.duplicated, 0);
  t.is(v.outOfOrder, 0);
  ok = true;
});
