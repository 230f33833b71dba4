// Inputs for `npm run bench -- sim --inputs SPEC,...` besides the PlanetLab days: held-out and
// extra validation inputs derived from the day files and the synthetic generator, so that a rule
// is judged on more than the 5 days (docs/simulator.md, "Held out").
//   day:D       the day file D.csv                   odd:D / even:D  its odd / even-numbered VMs
//   m3:D:R      its VMs i with i % 3 = R              rot:D:K         every VM's series rotated by K
//   syn:SEED    synthetic:1000:SEED                                   samples (288 = 1 day)
import { join } from 'node:path';
import { VmanageError, ErrorCodes } from '../../src/domain/errors.js';
import { syntheticWorkload } from '../../src/sim/synthetic.js';
import { loadWorkload, type Workload } from '../../src/sim/workload.js';

function subset(w: Workload, name: string, keep: (i: number) => boolean): Workload {
  const idx = w.utilisation.map((_, i) => i).filter(keep);
  return { ...w, source: name, vmNames: idx.map((i) => w.vmNames[i] as string), utilisation: idx.map((i) => w.utilisation[i] as Float64Array) };
}

function rotated(w: Workload, name: string, k: number): Workload {
  const utilisation = w.utilisation.map((u) => Float64Array.from(u, (_, i) => u[(i + k) % u.length] as number));
  return { ...w, source: name, utilisation };
}

/** The workload a spec names (see the header), reading day files from dir. */
export function benchInput(spec: string, dir: string): Workload {
  const [kind, a = '', b = ''] = spec.split(':');
  const bad = (): never => {
    throw new VmanageError(ErrorCodes.InvalidInput, `--inputs ${spec}: expected day:D, odd:D, even:D, m3:D:0..2, rot:D:K or syn:SEED`, { spec });
  };
  if (kind === 'syn') return /^\d+$/.test(a) ? syntheticWorkload({ vms: 1000, intervals: 288, seed: Number(a) }) : bad();
  if (!/^\d{8}$/.test(a)) bad();
  const day = (): Workload => loadWorkload(join(dir, `${a}.csv`));
  switch (kind) {
    case 'day': return day();
    case 'odd': return subset(day(), spec, (i) => i % 2 === 1);
    case 'even': return subset(day(), spec, (i) => i % 2 === 0);
    case 'm3': return /^[012]$/.test(b) ? subset(day(), spec, (i) => i % 3 === Number(b)) : bad();
    case 'rot': return /^\d+$/.test(b) ? rotated(day(), spec, Number(b)) : bad();
    default: return bad();
  }
}

/** The held-out set of docs/simulator.md. */
export const HELD_OUT = ['syn:21', 'syn:22', 'syn:23', 'syn:24', 'odd:20110303', 'odd:20110325', 'odd:20110409'];
