// vmanage-powerd as a real child process on a private system bus with the DCMI power-limit
// plug-in pointing at a real BMC (ipmi_sim + our DCMI plug-in, test/support/ipmisim.ts): a cap
// set through the powerd client reaches the BMC and is active, out-of-range caps are refused by
// name (by powerd's platform range, and by the BMC's own range), and clearing deactivates it.
import test, { type ExecutionContext } from 'ava';
import dbus from 'dbus-next';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PowerdClient } from '../../src/adapters/power/powerd-client.js';
import { disconnectBus, POWER1_IFACE, POWER1_NAME, POWER1_PATH } from '../../src/adapters/power/powerd-client-protocol.js';
import { isVmanageError } from '../../src/domain/errors.js';
import { startPrivateBus } from '../support/dbus.js';
import { startIpmiSim, type IpmiSim } from '../support/ipmisim.js';
import { startProcess, tempDir } from '../support/proc.js';

const MAIN = 'src/daemons/powerd/main.ts';

interface Rig { sim: IpmiSim; client: dbus.MessageBus; powerd: PowerdClient }

/** ipmi_sim accepts 100..800 W; powerd's DCMI source is configured for 150..850 W, so 820 W
 *  passes powerd and is refused by the BMC itself. powerd runs the sim backend (no sysfs). */
async function startRig(t: ExecutionContext, tool: 'freeipmi' | 'ipmitool'): Promise<Rig> {
  const sim = await startIpmiSim(t, { limitMin: 100, limitMax: 800 });
  const bus = await startPrivateBus(t, 'system');
  const file = join(await tempDir(t, 'vmanage-powerd-dcmi-'), 'powerd.yaml');
  const target = JSON.stringify(sim.target());
  await writeFile(file, `backend: sim\nreadingIntervalMs: 0\nallow: { uids: [0], groups: [] }\npowerLimits:\n  - kind: dcmi\n    options: { target: ${target}, tool: ${tool}, timeoutMs: 5000, minWatts: 150, maxWatts: 850 }\n`);
  await startProcess(t, process.execPath, ['--import', 'tsx', MAIN, '--config', file], {
    env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: bus.address }, ready: /vmanage-powerd ready/, readyTimeoutMs: 60_000,
  });
  const client = dbus.sessionBus({ busAddress: bus.address });
  client.on('error', () => undefined); // writes after the bus daemon stopped, at teardown
  t.teardown(() => disconnectBus(client));
  return { sim, client, powerd: await PowerdClient.connect({ bus: client, timeoutMs: 15_000 }) };
}

for (const tool of ['freeipmi', 'ipmitool'] as const) {
  test.serial(`a DCMI cap set through powerd (${tool}) is active in the BMC, reads back, is refused out of range by name, and clearing deactivates it`, async (t) => {
    t.timeout(120_000);
    const { sim, client, powerd } = await startRig(t, tool);
    const dcmi = powerd.powerLimit('dcmi');
    t.like(await dcmi.state(), { limitWatts: null, minWatts: 150, maxWatts: 850 });
    t.true((await powerd.getState()).powerLimits.some((l) => l.source.startsWith('dcmi')), 'powerd lists the DCMI source');

    const changed = new Promise((resolve) => powerd.onCapChanged(resolve));
    await dcmi.setLimit(420);
    t.deepEqual(await sim.limitFile(), [420, true], 'the BMC holds 420 W, active');
    t.is((await dcmi.state()).limitWatts, 420, 'powerd reads the BMC\'s limit back');
    t.like(await changed, { what: 'power-limit:dcmi', uid: 0, old: '', new: '420' });

    // Above powerd's configured range: OutOfBounds on the wire, naming the limit; the BMC is not touched.
    const raw = (await client.getProxyObject(POWER1_NAME, POWER1_PATH)).getInterface(POWER1_IFACE);
    const wire = await t.throwsAsync(raw.SetPowerLimit!('dcmi', 900) as Promise<void>);
    t.is((wire as unknown as { type: string }).type, 'org.vmanage.Power1.Error.OutOfBounds');
    t.regex((wire as unknown as { text: string }).text, /900 W is above maxWatts \(850 W\) of dcmi/);
    const low = await t.throwsAsync(dcmi.setLimit(120));
    t.true(isVmanageError(low, 'OUT_OF_BOUNDS'), String(low));
    t.regex(low.message, /120 W is below minWatts \(150 W\)/);
    t.deepEqual(await sim.limitFile(), [420, true], 'refused caps leave the BMC alone');

    // Inside powerd's range, outside the BMC's: the BMC's own refusal comes back typed.
    const bmc = await t.throwsAsync(dcmi.setLimit(820));
    t.true(isVmanageError(bmc, 'POWER_CAP_REJECTED'), String(bmc));
    t.deepEqual(await sim.limitFile(), [420, true]);

    await dcmi.clearLimit();
    t.deepEqual(await sim.limitFile(), [420, false], 'the BMC\'s limit is deactivated');
    t.is((await dcmi.state()).limitWatts, null);
  });
}
