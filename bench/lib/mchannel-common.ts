// Shared by the M-channel benchmark and its peer process: the message kind and its schema.
import { z } from 'zod';
import { createRegistry, defineFamily } from '../../src/protocol/index.js';

export const benchFamily = defineFamily({
  name: 'bench',
  description: 'benchmark traffic',
  kinds: [{ kind: 'bench.msg', direction: 'any', description: 'one benchmark message', body: z.object({ t: z.number(), i: z.number().int(), pad: z.string() }) }],
});

export const benchRegistry = createRegistry(benchFamily);

/** Monotonic ns as a JS number: CLOCK_MONOTONIC is shared by processes on one machine. */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

/** A body whose JSON is exactly `bytes` bytes long. */
export function body(i: number, bytes: number): { t: number; i: number; pad: string } {
  const b = { t: nowNs(), i, pad: '' };
  const n = Buffer.byteLength(JSON.stringify(b));
  b.pad = 'x'.repeat(Math.max(0, bytes - n));
  return b;
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}
