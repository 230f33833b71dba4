// What the VM end-to-end tests share: a guest whose agent streams numbered SLA reports (a probe
// inside the guest counts 1, 2, 3...), the reports as the host daemons logged them, live
// migration through the libvirt adapter, the stream checks (every number once, in order, no
// new session) and, on failure, what the guest console, both daemons and QEMU said last.
import type { ExecutionContext } from 'ava';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LibvirtHypervisor } from '../../../src/adapters/libvirt/index.js';
import { waitFor } from '../../support/proc.js';
import type { TestVm } from '../../support/vm.js';
import type { HostStack } from './stack.js';
import { verdict, type Seen, type Verdict } from './reports.js';

/** A probe that prints 1, 2, 3... (a counter kept in the guest's /tmp): the report number. */
export const counterProbe = ['/bin/sh', '-c', 'n=$(cat /tmp/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /tmp/n; echo $n'];

/** The agent configuration of the streaming guest: one report every 250 ms. */
export const streamingAgent = {
  heartbeatMs: 1000,
  reportMs: 250,
  objectives: [{ name: 'report-number', source: 'probe', kind: 'value', command: counterProbe, op: '>=', target: 0, unit: 'n' }],
};

/** Every numbered report the daemons logged for vm, in the order they received them. */
export function reportsOf(stacks: readonly HostStack[], vm: string): Seen[] {
  const seen: Seen[] = [];
  for (const s of stacks) {
    for (const l of s.lines()) {
      if (l.event !== 'sla.report' || l.vm !== vm) continue;
      seen.push({ n: (l.measured as { value: number }).value, host: s.host.name, time: l.time, seq: Number(l.seq), stale: l.stale === true });
    }
  }
  // Each daemon's lines are in its receive order; across daemons the host clock orders them (ms;
  // the session's sequence number, continuous across handovers, breaks ties).
  return seen.sort((a, b) => a.time - b.time || a.seq - b.seq);
}

/** How many guest.session events of this kind the daemon logged for vm. */
export function sessionEvents(s: HostStack, vm: string, change: string): number {
  return s.lines().filter((l) => l.event === 'guest.session' && l.vm === vm && l.change === change).length;
}

/** Live-migrates vm (libvirt adapter, peer-to-peer) and returns how long it took (ms). */
export async function migrate(vm: TestVm, from: HostStack, to: HostStack): Promise<number> {
  const hv = new LibvirtHypervisor({ uri: 'qemu:///system', busAddress: from.busAddress });
  const t0 = Date.now();
  try {
    const src = vm.paths(from.host);
    const dst = vm.paths(to.host);
    const xml = (await from.host.virsh('dumpxml', '--migratable', vm.spec.name)).split(src.channel).join(dst.channel).split(src.console).join(dst.console);
    await hv.migrate(vm.spec.uuid, {
      destinationUri: to.host.p2pUri, migrateUri: `tcp://${to.host.address}`, persistDest: true, undefineSource: true, destinationXml: xml,
    } as Parameters<LibvirtHypervisor['migrate']>[1]);
  } finally {
    await hv.close();
  }
  return Date.now() - t0;
}

/** The host where the guest's console shows a kernel oops or panic, if any. */
export function guestOops(vm: TestVm, s: HostStack): string | undefined {
  try {
    const c = readFileSync(vm.paths(s.host).console, 'utf8');
    return /Kernel panic|---\[ end trace|BUG: /.test(c) ? `host ${s.host.name}: ${/(BUG: [^\n]*|Kernel panic[^\n]*|RIP: [^\n]*)/.exec(c)?.[1] ?? 'oops'}` : undefined;
  } catch {
    return undefined;
  }
}

/** Waits until `count` more reports arrived; fails at once, naming it, if the guest kernel died. */
export async function reportsFlow(stacks: readonly HostStack[], vm: TestVm, what: string, count = 4, timeoutMs = 60_000): Promise<void> {
  const before = reportsOf(stacks, vm.spec.uuid).length;
  const r = await waitFor(`reports flowing ${what}`, () => {
    const oops = stacks.map((s) => guestOops(vm, s)).find(Boolean);
    if (oops) return { oops };
    return reportsOf(stacks, vm.spec.uuid).length >= before + count ? { oops: undefined } : undefined;
  }, timeoutMs, 100);
  if (r.oops) throw new Error(`the guest kernel crashed (${what}) on ${r.oops}`);
}

const tail = (s: string, n: number): string => s.split('\n').slice(-n).join('\n');

/** QEMU's view of the agent channel on one host (the chardev and the port's virtqueues). */
async function qemuView(vm: TestVm, s: HostStack): Promise<string> {
  const hmp = (cmd: string): Promise<string> => s.host.virsh('qemu-monitor-command', '--hmp', vm.spec.name, cmd).then((x) => x.trim(), (e: unknown) => `(${cmd}: ${String(e).split('\n')[0]})`);
  const out = [`info status: ${await hmp('info status')}`, `info chardev:\n${await hmp('info chardev')}`];
  const dev = /(\/machine\/peripheral[^\s]*virtio-serial[^\s]*|\/machine\/peripheral-anon\/device\[\d+\]\/virtio-backend)/.exec(await hmp('info virtio'))?.[1];
  // Queues 4 and 5: the first non-console port's receive and transmit queues.
  if (dev) for (const q of [4, 5]) out.push(`queue ${q}: ${(await hmp(`info virtio-queue-status ${dev} ${q}`)).replace(/\s+/g, ' ')}`);
  let qlog = '';
  try {
    qlog = tail(readFileSync(join(s.host.dir, 'log/qemu', `${vm.spec.name}.log`), 'utf8'), 8);
  } catch { /* no QEMU log on this host */ }
  return `${out.join('\n')}\nqemu log:\n${qlog}`;
}

/** On failure: VM state, the guest console, both daemons' last lines and QEMU's channel state. */
export async function diagnostics(vm: TestVm, stacks: readonly HostStack[]): Promise<string> {
  const parts: string[] = [];
  for (const s of stacks) {
    const state = await s.host.virsh('domstate', '--reason', vm.spec.name).then((x) => x.trim(), () => '(not there)');
    parts.push(`=== host ${s.host.name}: ${state}`);
    if (state !== '(not there)') parts.push(await qemuView(vm, s));
    try {
      parts.push(`--- console:\n${tail(readFileSync(vm.paths(s.host).console, 'utf8'), 30)}`);
    } catch {
      parts.push('--- no console');
    }
    parts.push(`--- host daemon:\n${s.lines().filter((l) => l.event !== 'sla.report').slice(-30).map((l) => JSON.stringify(l).slice(0, 400)).join('\n')}`);
  }
  return parts.join('\n');
}

/** Logs diagnostics when the test did not reach ok() (registered after the VM's teardown, so it
 *  runs first), and gives onCrash the guest kernel crash seen on a console, if any. */
export function explainFailure(t: ExecutionContext, vm: TestVm, stacks: readonly HostStack[], more?: () => string, onCrash?: (oops: string) => void): { ok(): void } {
  let passed = false;
  t.teardown(async () => {
    const dir = process.env.VMANAGE_E2E_LOG_DIR;
    if (dir) {
      for (const s of stacks) {
        try {
          copyFileSync(vm.paths(s.host).console, join(dir, `console-${s.host.name}.log`));
        } catch { /* no console on this host */ }
      }
    }
    if (passed) return;
    const crashed = stacks.map((s) => guestOops(vm, s)).find(Boolean);
    if (crashed) onCrash?.(crashed);
    t.log(`${await diagnostics(vm, stacks)}${more ? `\n${more()}` : ''}`);
  });
  return { ok: () => { passed = true; } };
}

/** Lets `count` more reports arrive, stops the VM and checks the whole stream: every number
 *  once, in order, from 1, and no destination fell back to a new session. */
export async function streamIntact(t: ExecutionContext, vm: TestVm, stacks: readonly HostStack[], on: HostStack, count = 8): Promise<Verdict> {
  await reportsFlow(stacks, vm, 'at the end', count);
  await vm.destroy(on.host);
  const v = verdict(reportsOf(stacks, vm.spec.uuid));
  const timeouts = stacks.reduce((n, s) => n + sessionEvents(s, vm.spec.uuid, 'handover-timeout'), 0);
  t.log(`reports ${v.count} (numbers ${v.first}..${v.last}), lost ${v.lost}, duplicated ${v.duplicated}, out of order ${v.outOfOrder}, stale (held by QEMU) ${v.stale}`);
  t.is(timeouts, 0, 'no destination fell back to a new session');
  t.is(v.first, 1);
  t.is(v.lost, 0);
  t.is(v.duplicated, 0);
  t.is(v.outOfOrder, 0);
  return v;
}
