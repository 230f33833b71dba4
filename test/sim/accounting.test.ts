import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { createPolicy } from '../../src/sim/policies/index.js';
import { simulate } from '../../src/sim/run.js';
import { referenceSetup } from '../../src/sim/setup.js';
import { loadWorkload, type Workload } from '../../src/sim/workload.js';

const G5 = [93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135];

function g5Watts(u: number): number {
  const i = Math.min(9, Math.floor(u * 10));
  return (G5[i] as number) + ((G5[i + 1] as number) - (G5[i] as number)) * (u * 10 - i);
}

function workload(rows: number[][]): Workload {
  return {
    source: 'test', vmNames: rows.map((_, i) => `vm${i}`), intervals: rows[0]?.length ?? 0,
    utilisation: rows.map((r) => Float64Array.from(r, (p) => p / 100)),
  };
}

test('energy is the power at the VM demand over each interval, and an idle host counts 0 W', (t) => {
  // referenceSetup(2 VMs, 2 hosts): VM0 2500 MIPS and VM1 2000 MIPS, both fit only on host 1 (G5).
  const w = workload([[50, 50, 50], [0, 0, 0]]);
  const r = simulate({ workload: w, policy: createPolicy('dvfs'), setup: referenceSetup(2, 2) });
  t.is(r.migrations, 0);
  const expected = 2 * 300 * g5Watts(1250 / 5320);
  t.true(Math.abs(r.energyKWh * 3.6e6 - expected) < 1e-6, `${r.energyKWh * 3.6e6} vs ${expected}`);
  t.is(r.slatah, 0);
});

test('NPA counts every host at peak power all the time', (t) => {
  const w = workload([[10, 10, 10], [0, 0, 0]]);
  const r = simulate({ workload: w, policy: createPolicy('npa'), setup: referenceSetup(2, 2) });
  t.true(Math.abs(r.energyKWh * 3.6e6 - 600 * (117 + 135)) < 1e-6);
});

test('one consolidation migration costs its VM 10 % during RAM / (bandwidth / 2) and the destination an SLA breach', (t) => {
  // Hosts 0..3 alternate G4/G5. PABFD starts VM0 (2500 MIPS, 870 MB) on host 1 and VM1 (2000 MIPS,
  // 1740 MB) on host 3; at 30 % each, host 3 is the least utilised, so VM1 moves to host 1.
  const w = workload([[30, 30, 30], [30, 30, 30]]);
  const r = simulate({ workload: w, policy: createPolicy('thr-mmt-0.8'), setup: referenceSetup(2, 4) });
  t.is(r.migrations, 1);
  const duration = 1740 / (1_000_000 / 16_000); // 27.84 s
  t.true(Math.abs(r.pdm - (60 * duration) / (1350 * 600)) < 1e-12, `pdm ${r.pdm}`);
  // Host 1 is active 600 s and under-allocated while the VM arrives; host 3 is active until it leaves.
  t.true(Math.abs(r.slatah - duration / (600 + 300 + duration)) < 1e-12, `slatah ${r.slatah}`);
  t.true(Math.abs(r.slav - r.slatah * r.pdm) < 1e-18);
  t.true(Math.abs(r.esv - r.energyKWh * r.slav) < 1e-18);
});

test('an overloaded host sheds its smallest-RAM VM to the host whose power grows least', (t) => {
  // Four VMs: 2500, 2000, 1000, 500 MIPS. At 99 % VM0 + VM1 on one G5 host would exceed 80 %.
  const w = workload([[99, 99, 99], [99, 99, 99], [10, 10, 10], [10, 10, 10]]);
  const r = simulate({ workload: w, policy: createPolicy('thr-mmt-0.8'), setup: referenceSetup(4, 6) });
  t.true(r.migrations >= 1);
  t.is(r.unplacedVms, 0);
});

const DAY = '/work/shared/data/planetlab/20110303.csv';
const REF = '/work/shared/reference/cloudsim-planetlab.tsv';

function reference(day: string, policy: string): Record<string, number> {
  const lines = readFileSync(REF, 'utf8').split('\n').filter((l) => l.startsWith(day));
  const row = lines.map((l) => l.split('\t')).find((c) => c[1] === policy.toUpperCase());
  if (!row) throw new Error(`no reference row for ${day} ${policy}`);
  return { energy: Number(row[2]), migrations: Number(row[3]), slatah: Number(row[4]) / 100, pdm: Number(row[5]) / 100 };
}

const real = existsSync(DAY) && existsSync(REF) ? test : test.skip;

real('on a real PlanetLab day NPA matches CloudSim and THR-MMT-0.8 / LR-MMT-1.2 land within 10 % of its energy and migrations', (t) => {
  const w = loadWorkload(DAY);
  const npa = simulate({ workload: w, policy: createPolicy('npa') });
  // CloudSim's first interval starts at 0 and its steps fall 0.1 s later: 800 hosts x 0.1 s more.
  t.true(Math.abs(npa.energyKWh - (reference('20110303', 'npa').energy as number)) < 0.005);
  for (const name of ['thr-mmt-0.8', 'lr-mmt-1.2']) {
    const r = simulate({ workload: w, policy: createPolicy(name) });
    const ref = reference('20110303', name);
    const near = (a: number, b: number, tol: number): boolean => Math.abs(a / b - 1) <= tol;
    t.true(near(r.energyKWh, ref.energy as number, 0.1), `${name} energy ${r.energyKWh} vs ${ref.energy}`);
    t.true(near(r.migrations, ref.migrations as number, 0.1), `${name} migrations ${r.migrations} vs ${ref.migrations}`);
    t.true(near(r.pdm, ref.pdm as number, 0.25), `${name} pdm ${r.pdm} vs ${ref.pdm}`);
    t.true(near(r.slatah, ref.slatah as number, 0.25), `${name} slatah ${r.slatah} vs ${ref.slatah}`);
  }
});

test('latency: a VM held to a half-speed core serves its demand d / a times slower', async (t) => {
  const { Datacenter } = await import('../../src/sim/datacenter.js');
  const { Accounting, metricsOf, LATENCY } = await import('../../src/sim/accounting.js');
  // referenceSetup(4 VMs, 2 hosts): VM0 2500 MIPS and VM1 2000 MIPS on host 1 (G5, 2 x 2660 MIPS).
  const w = workload([[80, 80], [50, 50], [0, 0], [0, 0]]);
  const dc = new Datacenter(referenceSetup(4, 2), w);
  dc.place(0, 1);
  dc.place(1, 1);
  dc.freqRatio[1] = 0.5; // cores of 1330 MIPS: VM0 asks 2000 and gets 1330, VM1 gets its 1000
  const acc = new Accounting(dc);
  dc.setDemand(0, 0);
  dc.measureAll();
  acc.record();
  acc.segment(300);
  const m = metricsOf(acc.totals, 0, 0);
  const slow = 2000 / 1330;
  t.true(slow > LATENCY.limit);
  t.true(Math.abs(m.meanSlowdown - (slow * 2000 + 1000) / 3000) < 1e-12, `${m.meanSlowdown}`);
  t.is(m.latencyViolationPct, 50);
  t.is(m.slaViolationPct, 50);
});
