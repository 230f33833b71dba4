// EDAC memory-controller error counters from sysfs (/sys/devices/system/edac/mc). Layout, as the
// kernel documents it (Documentation/admin-guide/ras.rst):
//   mcN/{ce_count, ue_count, ce_noinfo_count, ue_noinfo_count, mc_name, seconds_since_reset}
//   mcN/dimmM/{dimm_ce_count, dimm_ue_count, dimm_label, dimm_location}   (newer "dimm" API)
//   mcN/csrowK/{ce_count, ue_count, chX_ce_count, chX_dimm_label}        (older "csrow" API)
// Counters are cumulative since boot or the last reset. The root is configurable so tests run on
// a tree shaped exactly like the kernel's. A host without EDAC has no mc directory: available=false.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { counterDelta, type ReliabilityEvent } from '../../domain/reliability.js';

export const DEFAULT_EDAC_ROOT = '/sys/devices/system/edac/mc';

export interface EdacDimm { readonly name: string; readonly label: string; readonly ce: number; readonly ue: number }

export interface EdacController {
  readonly name: string;            // "mc0"
  readonly mcName: string;          // driver name, e.g. "Skylake Socket#0 IMC#0"
  readonly ce: number;              // ce_count (includes ce_noinfo_count)
  readonly ue: number;
  readonly ceNoInfo: number;
  readonly ueNoInfo: number;
  readonly dimms: readonly EdacDimm[];
}

export interface EdacSnapshot {
  readonly available: boolean;
  readonly controllers: readonly EdacController[];
  /** Attribute files that existed but did not hold a counter (counted, then skipped). */
  readonly malformed: readonly string[];
}

const MAX_COUNTER = 2 ** 53 - 1;

async function text(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).slice(0, 4096);
  } catch {
    return undefined;
  }
}

/** Reads a decimal counter file; undefined if absent; records it in `bad` if malformed. */
async function counter(path: string, bad: string[]): Promise<number | undefined> {
  const t = await text(path);
  if (t === undefined) return undefined;
  const m = /^\s*(\d{1,16})\s*$/.exec(t);
  const v = m ? Number(m[1]) : NaN;
  if (!(v <= MAX_COUNTER)) {
    bad.push(path);
    return undefined;
  }
  return v;
}

async function entries(dir: string, re: RegExp): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => re.test(n)).sort((a, b) => Number(a.replace(/\D/g, '')) - Number(b.replace(/\D/g, '')));
  } catch {
    return [];
  }
}

async function readDimms(mcDir: string, bad: string[]): Promise<EdacDimm[]> {
  const out: EdacDimm[] = [];
  for (const d of await entries(mcDir, /^dimm\d+$/)) {
    const dir = join(mcDir, d);
    out.push({ name: d, label: (await text(join(dir, 'dimm_label')))?.trim() ?? '', ce: await counter(join(dir, 'dimm_ce_count'), bad) ?? 0, ue: await counter(join(dir, 'dimm_ue_count'), bad) ?? 0 });
  }
  if (out.length > 0) return out;
  for (const c of await entries(mcDir, /^csrow\d+$/)) {
    const dir = join(mcDir, c);
    out.push({ name: c, label: (await text(join(dir, 'ch0_dimm_label')))?.trim() ?? '', ce: await counter(join(dir, 'ce_count'), bad) ?? 0, ue: await counter(join(dir, 'ue_count'), bad) ?? 0 });
  }
  return out;
}

export async function readEdac(root = DEFAULT_EDAC_ROOT): Promise<EdacSnapshot> {
  const bad: string[] = [];
  const mcs = await entries(root, /^mc\d+$/);
  const controllers: EdacController[] = [];
  for (const mc of mcs) {
    const dir = join(root, mc);
    controllers.push({
      name: mc,
      mcName: (await text(join(dir, 'mc_name')))?.trim() ?? '',
      ce: await counter(join(dir, 'ce_count'), bad) ?? 0,
      ue: await counter(join(dir, 'ue_count'), bad) ?? 0,
      ceNoInfo: await counter(join(dir, 'ce_noinfo_count'), bad) ?? 0,
      ueNoInfo: await counter(join(dir, 'ue_noinfo_count'), bad) ?? 0,
      dimms: await readDimms(dir, bad),
    });
  }
  return { available: mcs.length > 0, controllers, malformed: bad };
}

/**
 * Watches EDAC counters and turns increases into reliability events stamped with the read time.
 * The first read sets the baseline (errors before we watched are not "recent").
 */
export class EdacWatcher {
  private last = new Map<string, { ce: number; ue: number }>();
  malformedReads = 0;

  constructor(private readonly root = DEFAULT_EDAC_ROOT) {}

  async poll(nowMs: number): Promise<{ available: boolean; events: ReliabilityEvent[] }> {
    const snap = await readEdac(this.root);
    this.malformedReads += snap.malformed.length;
    const events: ReliabilityEvent[] = [];
    for (const mc of snap.controllers) {
      const prev = this.last.get(mc.name);
      const ce = counterDelta(prev?.ce, mc.ce);
      const ue = counterDelta(prev?.ue, mc.ue);
      if (ce > 0) events.push({ kind: 'memory-ce', at: nowMs, count: ce, source: `edac:${mc.name}` });
      if (ue > 0) events.push({ kind: 'memory-ue', at: nowMs, count: ue, source: `edac:${mc.name}` });
      this.last.set(mc.name, { ce: mc.ce, ue: mc.ue });
    }
    return { available: snap.available, events };
  }
}
