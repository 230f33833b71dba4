// vmanage-mvm on a Xen dom0 (guests.transport xenstore), in process: libvirt's test driver behind
// libvirt-dbus for the VMs, the REAL vmanage-powerd for the frequency cap, a test xenstored in
// which /local/domain/<domid>/vm names the test driver VM's UUID, and guests running the real
// agent over XenstoreConnector. (There is no Xen hypervisor on this machine: docs/xen.md.)
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { pino } from 'pino';
import { connectXenstoreSocket } from '../../src/adapters/xen/connect.js';
import { parseMvmConfig } from '../../src/daemons/mvm/config.js';
import { startMvm, type Mvm } from '../../src/daemons/mvm/mvm.js';
import { acceptAnything, Channel } from '../../src/mchannel/index.js';
import { XenstoreConnector } from '../../src/mchannel/transports/xenstore.js';
import { freePort, tempDir, waitFor, type Teardown } from '../support/proc.js';
import { startDom0, startXenGuest, type Dom0 } from '../xen/dom0-support.js';
import { powerSection, sharedPowerd, startLibvirt, type Libvirt, type Powerd } from './support.js';

const { powerd, release } = sharedPowerd();
test.after.always(release);

/** The MVM's log lines (JSON) go to `log`: what it did before startMvm returned is seen too. */
async function xenMvm(t: Teardown, lv: Libvirt, dom0: Dom0, pd: Powerd, stateFile: string, log: string[], metricsPort?: number): Promise<Mvm> {
  const cfg = parseMvmConfig({
    host: 'h1', hypervisor: { uri: 'test:///default', busAddress: lv.ld.address }, stateFile,
    guests: { transport: 'xenstore', xenstoreSocket: dom0.xsd.socketPath },
    power: powerSection(pd.address, 0.5, { startCapKHz: 2_000_000 }),
    ...(metricsPort !== undefined ? { metrics: { port: metricsPort } } : {}),
  });
  const mvm = await startMvm(cfg, pino({ level: 'info' }, { write: (line: string) => { log.push(line); } }));
  let stopped = false;
  t.teardown(async () => { if (!stopped) await mvm.stop(); });
  const stop = mvm.stop.bind(mvm);
  return { ...mvm, stop: async () => { stopped = true; await stop(); } };
}

test.serial('a violated SLA report from a xenstore guest reaches the control loop for its VM and raises the cap; a hostile guest\'s session flood does not stop it', async (t) => {
  const pd = await powerd();
  const lv = await startLibvirt(t);
  const dom0 = await startDom0(t);
  const dir = await tempDir(t);
  const [vm, evilVm] = [randomUUID(), randomUUID()];
  await lv.startVm('xen-web', vm, join(dir, 'unused-a.sock'));
  await lv.startVm('xen-evil', evilVm, join(dir, 'unused-b.sock'));
  const port = await freePort();
  const mvm = await xenMvm(t, lv, dom0, pd, join(dir, 'sessions.json'), [], port);
  const reports: { vm: string; status: string }[] = [];
  mvm.loop!.bus.on('test', 'sla-report', (e) => { reports.push({ vm: e.vm, status: e.report.status }); });

  const sock = await dom0.guestSocket(4, vm);
  const g = startXenGuest(t, async () => sock);
  await g.report(100);
  await waitFor('the ok report in the loop', () => reports.some((r) => r.vm === vm && r.status === 'ok'), 30_000);

  // The hostile guest (another VM here) opens a new session in a loop, and a domain without a VM
  // tries too; neither may crowd out the first VM.
  const evilSock = await dom0.guestSocket(6, evilVm);
  for (let i = 0; i < 12; i++) {
    const ch = Channel.client(new XenstoreConnector(() => connectXenstoreSocket(evilSock)), { role: 'agent', validator: acceptAnything, backoffMinMs: 20, backoffMaxMs: 100 });
    t.teardown(() => ch.detach());
    await waitFor(`hostile session ${i}`, () => ch.state === 'connected', 20_000);
    ch.detach();
  }
  const nobody = startXenGuest(t, () => dom0.guestSocket(9));
  void nobody.report(1);
  await waitFor('the domain without a VM refused', () => mvm.status().counters['guest_refused_not_admitted']! >= 1, 20_000);

  await g.report(0);
  await waitFor('the violation in the loop', () => reports.some((r) => r.vm === vm && r.status === 'violated'), 30_000);
  // The cap goes up a step per cycle while the VM's last report says violated.
  await waitFor('the cap raised in sysfs', async () => (await pd.capKHz()) >= 2_100_000, 30_000);
  t.true(reports.every((r) => r.vm === vm), JSON.stringify(reports));
  const c = mvm.status().counters;
  t.true(c['guest_sessions_ended_replaced']! >= 1, JSON.stringify(c));
  t.is(c['sla_reports_unknown_vm'], 0);
  t.is(mvm.xen?.server.channels().filter((ch) => ch.peer?.id === evilVm).length ?? 99, 1, 'the flooding VM holds one session at most (its last)');
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  t.regex(metrics, /vmanage_mvm_events_total\{kind="xenstore_connections"\} [1-9]/);
  t.regex(metrics, /vmanage_mvm_events_total\{kind="guest_refused_not_admitted"\} [1-9]/);
});

test.serial('a restarted xenstore MVM resumes the guest\'s session from its state file: no report lost or seen twice', async (t) => {
  const pd = await powerd();
  const lv = await startLibvirt(t);
  const dom0 = await startDom0(t);
  const dir = await tempDir(t);
  const vm = randomUUID();
  await lv.startVm('xen-db', vm, join(dir, 'unused.sock'));
  const stateFile = join(dir, 'sessions.json');
  const log: string[] = [];
  const seen = (): number[] => log.map((l) => JSON.parse(l) as { event?: string; vm?: string; measured?: { value: number } })
    .filter((e) => e.event === 'sla.report' && e.vm === vm).map((e) => e.measured!.value);
  const first = await xenMvm(t, lv, dom0, pd, stateFile, log);
  const sock = await dom0.guestSocket(3, vm);
  const g = startXenGuest(t, async () => sock);
  for (const n of [11, 12]) await g.report(n);
  await waitFor('two reports', () => seen().length >= 2, 30_000);
  await first.stop();
  await g.report(13); // while no daemon runs
  const second = await xenMvm(t, lv, dom0, pd, stateFile, log);
  await g.report(14);
  await waitFor('the reports after the restart', () => seen().length >= 4, 40_000);
  t.deepEqual(seen(), [11, 12, 13, 14]);
  t.is(second.status().counters['guest_sessions_resumed_from_handover'], 1);
});
