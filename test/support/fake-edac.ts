// A fake EDAC sysfs tree shaped like the kernel's /sys/devices/system/edac/mc (this machine has no
// EDAC driver): mcN/{ce_count, ue_count, ce_noinfo_count, ue_noinfo_count, mc_name, size_mb,
// seconds_since_reset, reset_counters} with either dimmM/{dimm_ce_count, dimm_ue_count,
// dimm_label, dimm_location, size, dimm_mem_type, dimm_edac_mode, dimm_dev_type} (newer kernels)
// or csrowK/{ce_count, ue_count, ch0_ce_count, ch0_dimm_label, size_mb, mem_type, edac_mode}.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, type Teardown } from './proc.js';

export interface FakeDimm { ce: number; ue: number; label?: string }
export interface FakeMc { ce: number; ue: number; dimms?: FakeDimm[] }

export interface FakeEdac {
  /** Pass this as the EDAC root (it is the "mc" directory). */
  readonly root: string;
  /** Sets mcN's counters (and its first DIMM's, so the tree stays consistent). */
  set(mc: number, counts: { ce: number; ue: number }): Promise<void>;
  /** Writes raw text into an attribute, e.g. to make it malformed. */
  writeRaw(relPath: string, text: string): Promise<void>;
}

export async function createFakeEdac(t: Teardown, mcs: FakeMc[], layout: 'dimm' | 'csrow' = 'dimm'): Promise<FakeEdac> {
  const base = await tempDir(t, 'vmanage-edac-');
  const root = join(base, 'sys', 'devices', 'system', 'edac', 'mc');
  const w = (p: string, v: string | number): Promise<void> => writeFile(join(root, p), `${v}\n`);
  for (const [i, mc] of mcs.entries()) {
    const mcDir = `mc${i}`;
    await mkdir(join(root, mcDir), { recursive: true });
    await w(`${mcDir}/mc_name`, `Skylake Socket#${i} IMC#0`);
    await w(`${mcDir}/size_mb`, 32768);
    await w(`${mcDir}/seconds_since_reset`, 86400);
    await w(`${mcDir}/reset_counters`, '');
    await w(`${mcDir}/ce_count`, mc.ce);
    await w(`${mcDir}/ue_count`, mc.ue);
    await w(`${mcDir}/ce_noinfo_count`, 0);
    await w(`${mcDir}/ue_noinfo_count`, 0);
    const dimms = mc.dimms ?? [{ ce: mc.ce, ue: mc.ue }];
    for (const [j, d] of dimms.entries()) {
      if (layout === 'dimm') {
        const dd = `${mcDir}/dimm${j}`;
        await mkdir(join(root, dd));
        await w(`${dd}/dimm_ce_count`, d.ce);
        await w(`${dd}/dimm_ue_count`, d.ue);
        await w(`${dd}/dimm_label`, d.label ?? `CPU_SrcID#${i}_MC#0_Chan#${j}_DIMM#0`);
        await w(`${dd}/dimm_location`, `channel ${j} slot 0`);
        await w(`${dd}/size`, 16384);
        await w(`${dd}/dimm_mem_type`, 'Registered-DDR4');
        await w(`${dd}/dimm_edac_mode`, 'SECDED');
        await w(`${dd}/dimm_dev_type`, 'x4');
      } else {
        const cd = `${mcDir}/csrow${j}`;
        await mkdir(join(root, cd));
        await w(`${cd}/ce_count`, d.ce);
        await w(`${cd}/ue_count`, d.ue);
        await w(`${cd}/ch0_ce_count`, d.ce);
        await w(`${cd}/ch0_dimm_label`, d.label ?? `DIMM_${String.fromCharCode(65 + j)}1`);
        await w(`${cd}/size_mb`, 16384);
        await w(`${cd}/mem_type`, 'Registered-DDR4');
        await w(`${cd}/edac_mode`, 'SECDED');
      }
    }
  }
  return {
    root,
    set: async (mc, { ce, ue }) => {
      await w(`mc${mc}/ce_count`, ce);
      await w(`mc${mc}/ue_count`, ue);
      if (layout === 'dimm') {
        await w(`mc${mc}/dimm0/dimm_ce_count`, ce);
        await w(`mc${mc}/dimm0/dimm_ue_count`, ue);
      } else {
        await w(`mc${mc}/csrow0/ce_count`, ce);
        await w(`mc${mc}/csrow0/ue_count`, ue);
      }
    },
    writeRaw: (rel, text) => writeFile(join(root, rel), text),
  };
}
