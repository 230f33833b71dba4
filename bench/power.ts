// `npm run bench -- power [capChanges] [readings] [--fake-sysfs memory|disk]`: the D-Bus round
// trip of a frequency-cap change through vmanage-powerd (a real child process on a private system
// bus, writing a kernel-shaped fake sysfs: validation + sysfs writes + read-back + CapChanged),
// and the cost of one power reading per adapter, in ms. BMC adapters' costs come from
// bench/lib/power-bmc.ts when present. The fake tree is on tmpfs as sysfs is in memory
// (`--fake-sysfs disk`: os.tmpdir() as before 2026-11-26, bench/lib/sysfs-medium.ts).
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import dbus from 'dbus-next';
import { systemClock } from '../src/adapters/clock.js';
import { PowerdClient } from '../src/adapters/power/powerd-client.js';
import { disconnectBus } from '../src/adapters/power/powerd-client-protocol.js';
import { RaplSensor } from '../src/adapters/power/rapl.js';
import { constantUtilisation, SimPower } from '../src/adapters/power/sim.js';
import { specPowerModel } from '../src/domain/power-model.js';
import { startPrivateBus } from '../test/support/dbus.js';
import { intelPstatePolicies, makeFakeSysfs, raplPackage } from '../test/support/fakesysfs.js';
import { startProcess, tempDir, waitFor } from '../test/support/proc.js';
import { fsType, parseMedium, useSysfsMedium } from './lib/sysfs-medium.js';

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * Mean ms of fn over n runs after a few warm-up runs, runs gapMs apart (the gap is not timed):
 * RAPL answers reads closer than its minimum interval from its last reading.
 */
async function meanMs(n: number, fn: () => Promise<unknown>, gapMs = 0): Promise<number> {
  for (let i = 0; i < Math.min(10, n); i++) await fn();
  let total = 0n;
  for (let i = 0; i < n; i++) {
    if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
    const t0 = process.hrtime.bigint();
    await fn();
    total += process.hrtime.bigint() - t0;
  }
  return round(Number(total) / 1e6 / n);
}

async function bmcCosts(): Promise<Record<string, number>> {
  const url = pathToFileURL(join(import.meta.dirname, 'lib', 'power-bmc.ts')).href;
  try {
    const mod = (await import(url)) as { bmcReadingCosts?: () => Promise<Record<string, number>> };
    return mod.bmcReadingCosts ? await mod.bmcReadingCosts() : {};
  } catch (err) {
    process.stderr.write(`power bench: no BMC reading costs (${(err as Error).message.split('\n')[0]})\n`);
    return {};
  }
}

export default async function powerBench(args: string[]): Promise<object> {
  const medium = parseMedium(args);
  useSysfsMedium(medium);
  const positional = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--fake-sysfs');
  const capChanges = Number(positional[0] ?? 500);
  const readings = Number(positional[1] ?? 200);
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    const bus = await startPrivateBus(undefined, 'system');
    cleanup.push(() => bus.stop(), () => rm(bus.dir, { recursive: true, force: true }));
    const fake = await makeFakeSysfs(undefined, { policies: intelPstatePolicies(4), rapl: [raplPackage(0), raplPackage(1)] });
    cleanup.push(() => rm(fake.root, { recursive: true, force: true }));
    const dir = await tempDir(undefined, 'vmanage-bench-');
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const config = join(dir, 'powerd.yaml');
    await writeFile(config, `sysfsRoot: ${fake.root}\nreadingIntervalMs: 0\nlogLevel: warn\nallow: { uids: [0], groups: [] }\n`);
    const powerd = await startProcess(undefined, process.execPath, ['--import', 'tsx', 'src/daemons/powerd/main.ts', '--config', config], {
      env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: bus.address },
    });
    cleanup.unshift(() => powerd.stop());
    const conn = dbus.sessionBus({ busAddress: bus.address });
    conn.on('error', () => undefined); // writes after the bus daemon stopped, at cleanup
    cleanup.unshift(() => disconnectBus(conn));
    const client = await waitFor('powerd to own its name', () => PowerdClient.connect({ bus: conn, timeoutMs: 1000 }), 20_000, 100);

    process.stderr.write(`power bench: ${capChanges} cap changes through powerd...\n`);
    const caps = [2_000_000, 3_000_000];
    for (let i = 0; i < 20; i++) await client.setMaxFrequency(caps[i % 2] as number);
    const times: number[] = [];
    for (let i = 0; i < capChanges; i++) {
      const t0 = process.hrtime.bigint();
      await client.setMaxFrequency(caps[i % 2] as number);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    times.sort((a, b) => a - b);

    process.stderr.write(`power bench: ${readings} readings per adapter...\n`);
    const rapl = new RaplSensor({ root: fake.root, clock: systemClock });
    await rapl.prime();
    const sim = new SimPower({ model: specPowerModel('hp-proliant-ml110-g5', {}), clock: systemClock, utilisation: constantUtilisation(0.5) });
    const readingMs: Record<string, number> = {
      rapl: await meanMs(readings, () => rapl.read(), 12),
      sim: await meanMs(readings, () => sim.sensor.read()),
      powerd: await meanMs(readings, () => client.sensor.read(), 12),
      ...(await bmcCosts()),
    };
    return {
      capChangeP50Ms: round(percentile(times, 50)),
      capChangeP99Ms: round(percentile(times, 99)),
      capChangeMeanMs: round(times.reduce((a, b) => a + b, 0) / times.length),
      capChanges,
      policies: 4,
      fakeSysfs: `${medium} (${fsType(fake.root)})`,
      readingMs,
    };
  } finally {
    for (const fn of cleanup) await fn().catch(() => undefined);
  }
}
