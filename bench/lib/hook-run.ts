// Spawns the real hook script once, the way libvirt does (4 arguments, domain XML on stdin), and
// measures its wall time from spawn to exit, ms.
import { spawn } from 'node:child_process';

export async function timeHookOnce(script: string, args: readonly string[], stdin: string, env: Record<string, string>): Promise<{ ms: number; code: number | null }> {
  const t0 = process.hrtime.bigint();
  const child = spawn(script, [...args], { stdio: ['pipe', 'ignore', 'ignore'], env });
  child.stdin.on('error', () => undefined);
  child.stdin.end(stdin);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, code };
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}
