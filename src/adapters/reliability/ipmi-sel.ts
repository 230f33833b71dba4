// IPMI System Event Log and sensor threshold states as reliability inputs (FreeIPMI ipmi-sel and
// ipmi-sensors). SEL records are read after a cursor (the highest record ID seen); if the SEL
// was cleared (IDs went back), reading starts over. Memory ECC records become memory-ce /
// memory-ue; any other Warning / Critical record becomes sel-warning / sel-critical.
import { mkdir } from 'node:fs/promises';
import type { ReliabilityEvent, ThresholdStates } from '../../domain/reliability.js';
import type { IpmiTool } from '../power/ipmi-dcmi.js';
import type { ToolRunner } from '../power/ipmi-exec.js';
import { readIpmiSensors } from '../power/ipmi-sensors.js';
import { parseSelCsv, type SelRow } from '../power/ipmi-sensors-parse.js';
import { runIpmi, targetName, type IpmiTarget } from '../power/ipmi-target.js';

export interface IpmiReliabilityOptions {
  readonly target: IpmiTarget;
  /** For threshold states; the SEL is always read with FreeIPMI's ipmi-sel. */
  readonly tool?: IpmiTool;
  readonly runner: ToolRunner;
  readonly timeoutMs: number;
  readonly sdrCacheDir: string;
}

export function selEvent(row: SelRow, nowMs: number, source: string): ReliabilityEvent | undefined {
  const at = row.timestamp === null ? nowMs : Math.min(row.timestamp, nowMs);
  if (row.type === 'Memory' && /uncorrectable/i.test(row.event)) return { kind: 'memory-ue', at, count: 1, source };
  if (row.type === 'Memory' && /correctable/i.test(row.event)) return { kind: 'memory-ce', at, count: 1, source };
  if (row.state === 'Critical') return { kind: 'sel-critical', at, count: 1, source };
  if (row.state === 'Warning') return { kind: 'sel-warning', at, count: 1, source };
  return undefined;
}

export async function readSel(o: IpmiReliabilityOptions): Promise<SelRow[]> {
  await mkdir(o.sdrCacheDir, { recursive: true, mode: 0o700 });
  const { stdout } = await runIpmi(o.runner, o.target, o.timeoutMs, 'ipmi-sel', [
    `--sdr-cache-directory=${o.sdrCacheDir}`, '--quiet-cache',
    '--no-header-output', '--comma-separated-output', '--output-event-state', '--non-abbreviated-units',
  ]);
  return parseSelCsv(stdout);
}

export class IpmiSelWatcher {
  private cursor = -1;
  constructor(private readonly o: IpmiReliabilityOptions) {}

  async poll(nowMs: number): Promise<ReliabilityEvent[]> {
    const rows = await readSel(this.o);
    const maxId = rows.reduce((m, r) => Math.max(m, r.id), -1);
    if (maxId < this.cursor) this.cursor = -1; // the SEL was cleared
    const source = `ipmi-sel:${targetName(this.o.target)}`;
    const events = rows.filter((r) => r.id > this.cursor).map((r) => selEvent(r, nowMs, source)).filter((e): e is ReliabilityEvent => e !== undefined);
    this.cursor = Math.max(this.cursor, maxId);
    return events;
  }
}

/** How many sensors are past a warning / critical threshold now. */
export async function readThresholdStates(o: IpmiReliabilityOptions): Promise<ThresholdStates> {
  const rows = await readIpmiSensors(o);
  return {
    warning: rows.filter((r) => r.state === 'Warning').length,
    critical: rows.filter((r) => r.state === 'Critical').length,
  };
}
