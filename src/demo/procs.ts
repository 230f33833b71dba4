// Child processes of the demo: spawned with piped output read line by line (bounded lines, the
// last lines kept for error messages and a log file per child), stopped by PID (SIGTERM, then
// SIGKILL after a grace period), and the entry points of the daemons resolved next to this module
// (dist/*.js when built, src/*.ts through tsx in tests).
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const MAX_LINE = 64 * 1024;
const KEEP_LINES = 50;

export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  tail(): string;
  stop(graceMs?: number): Promise<void>;
}

/** The command that runs daemon `name` (mvm, leader), or undefined when it does not exist. */
export function daemonEntry(name: string): { cmd: string; args: string[] } | undefined {
  const here = fileURLToPath(import.meta.url);
  const ts = here.endsWith('.ts');
  const file = join(dirname(here), '..', 'daemons', name, ts ? 'main.ts' : 'main.js');
  if (!existsSync(file)) return undefined;
  return { cmd: process.execPath, args: ts ? ['--import', 'tsx', file] : [file] };
}

export function startChild(name: string, cmd: string, args: string[], logFile: string, onLine: (name: string, line: string) => void): Child {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
  const log: WriteStream = createWriteStream(logFile, { flags: 'a', mode: 0o600 });
  log.on('error', () => { /* the log file is a convenience */ });
  const last: string[] = [];
  const read = (s: NodeJS.ReadableStream | null): void => {
    if (!s) return;
    const rl = createInterface({ input: s, crlfDelay: Infinity });
    rl.on('line', (raw) => {
      const line = raw.length > MAX_LINE ? raw.slice(0, MAX_LINE) : raw;
      log.write(`${line}\n`);
      last.push(line);
      if (last.length > KEEP_LINES) last.shift();
      onLine(name, line);
    });
  };
  read(child.stdout);
  read(child.stderr);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => { log.end(); resolve(code); });
    child.once('error', () => resolve(-1));
  });
  return {
    name, pid: child.pid ?? -1, child, exited,
    tail: () => last.slice(-20).join('\n'),
    stop: async (graceMs = 8000) => {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      try { process.kill(child.pid, 'SIGTERM'); } catch { return; }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise<void>((r) => { timer = setTimeout(r, graceMs); })]);
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) {
        try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
        await exited;
      }
    },
  };
}

/** The first port from `from` that 127.0.0.1 lets us bind (tries `tries` ports). */
export async function firstFreePort(from: number, tries = 50): Promise<number> {
  for (let p = from; p < from + tries; p++) {
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(p, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return p;
  }
  throw new Error(`no free port in ${from}..${from + tries - 1} on 127.0.0.1`);
}
