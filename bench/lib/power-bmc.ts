// Cost of one BMC power reading per adapter, in ms (mean over n reads after warm-up), against
// real peers on loopback: ipmi_sim with our DCMI plug-in (FreeIPMI ipmi-dcmi, ipmi-sensors,
// ipmitool dcmi) and the test Redfish service (fetch + zod). Each IPMI reading spawns the tool, so
// the figure is dominated by process start + one RMCP+ session setup.
import { systemClock } from '../../src/adapters/clock.js';
import { dcmiPowerSensor } from '../../src/adapters/power/ipmi-dcmi.js';
import { execRunner } from '../../src/adapters/power/ipmi-exec.js';
import { ipmiSensorsPowerSensor } from '../../src/adapters/power/ipmi-sensors.js';
import { RedfishClient } from '../../src/adapters/power/redfish-client.js';
import { redfishPowerSensor } from '../../src/adapters/power/redfish-power.js';
import type { PowerSensor } from '../../src/domain/ports/power.js';
import { startIpmiSim } from '../../test/support/ipmisim.js';
import { redfishCredentials, startRedfish } from '../../test/support/redfish.js';

async function meanReadMs(sensor: PowerSensor, n: number): Promise<number> {
  for (let i = 0; i < 3; i++) await sensor.read();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await sensor.read();
  return Math.round((Number(process.hrtime.bigint() - t0) / 1e6 / n) * 1000) / 1000;
}

export async function bmcReadingCosts(n = 30): Promise<Record<string, number>> {
  const cleanups: (() => unknown)[] = [];
  const t = { teardown: (fn: () => unknown) => { cleanups.push(fn); } };
  try {
    const sim = await startIpmiSim(t, { powerWatts: 250, psuWatts: 240 });
    const rf = await startRedfish(t);
    const base = { target: sim.target(), runner: execRunner(), clock: systemClock, timeoutMs: 5000 };
    const client = new RedfishClient({ baseUrl: rf.url, ...redfishCredentials, timeoutMs: 5000 });
    return {
      ipmiDcmi: await meanReadMs(dcmiPowerSensor({ ...base, tool: 'freeipmi' }), n),
      ipmiSensors: await meanReadMs(ipmiSensorsPowerSensor({ ...base, sdrCacheDir: sim.sdrCacheDir }), n),
      ipmitoolDcmi: await meanReadMs(dcmiPowerSensor({ ...base, tool: 'ipmitool' }), n),
      redfish: await meanReadMs(redfishPowerSensor({ client, clock: systemClock, chassisPath: '/redfish/v1/Chassis/1' }), n * 10),
    };
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
}
