// Shared helpers for tests that run real peers: start a process, wait until it is ready, stop it
// by PID when the test ends, temporary directories and free ports. Every helper registers its
// cleanup with t.teardown so a failing test still stops what it started.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Teardown { teardown(fn: () => unknown): void }

export interface Started {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything the process wrote so far (stdout and stderr interleaved), for error messages. */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface StartOptions extends SpawnOptions {
  /** Resolves when the output matches (or the function returns true); default: at once. */
  ready?: RegExp | (() => Promise<boolean> | boolean);
  readyTimeoutMs?: number;
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Polls fn until it returns a truthy value or the timeout passes. */
export async function waitFor<T>(what: string, fn: () => Promise<T> | T, timeoutMs = 10_000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await sleep(everyMs);
  }
}

export function killPid(pid: number, signal: NodeJS.Signals = 'SIGTERM'): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Sends SIGTERM, waits up to graceMs, then SIGKILL. Works for processes we did not spawn (daemons that fork). */
export async function stopPid(pid: number, graceMs = 3000): Promise<void> {
  if (!killPid(pid, 'SIGTERM')) return;
  const deadline = Date.now() + graceMs;
  while (pidAlive(pid) && Date.now() < deadline) await sleep(25);
  if (pidAlive(pid)) killPid(pid, 'SIGKILL');
}

export async function startProcess(t: Teardown | undefined, cmd: string, args: string[], opts: StartOptions = {}): Promise<Started> {
  const { ready, readyTimeoutMs = 15_000, ...spawnOpts } = opts;
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOpts });
  let out = '';
  const append = (b: Buffer): void => {
    out += b.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  if (child.pid === undefined) await spawnError;
  const pid = child.pid as number;
  const started: Started = {
    pid,
    child,
    output: () => out,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
  t?.teardown(() => started.stop());
  if (ready) {
    // A process that exits before it is ready fails the start at once (not after the timeout).
    let early: Error | undefined;
    await waitFor(`${cmd} to be ready (output so far: ${JSON.stringify(out.slice(-500))})`, async () => {
      if (child.exitCode !== null) return (early = new Error(`${cmd} exited with ${child.exitCode} before it was ready: ${out.slice(-2000)}`));
      return ready instanceof RegExp ? ready.test(out) : ready();
    }, readyTimeoutMs);
    if (early) throw early;
  }
  return started;
}

export async function tempDir(t: Teardown | undefined, prefix = 'vmanage-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t?.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
