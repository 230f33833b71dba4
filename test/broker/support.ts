// Shared helpers for broker tests: a logger that records what was logged.
import pino, { type Logger } from 'pino';
import { Writable } from 'node:stream';

export function recordingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

export const silent: Logger = pino({ level: 'silent' });
