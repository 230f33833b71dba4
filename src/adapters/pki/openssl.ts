// Runs the openssl CLI (Debian `openssl`; node:crypto cannot make X.509 certificates). Arguments
// go as an argv array (no shell); input, when given, goes to stdin; every failure (missing binary,
// non-zero exit, timeout) becomes PKI_FAILED with openssl's own message, bounded in length.
import { spawn } from 'node:child_process';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';

export interface OpensslOptions {
  /** Written to openssl's stdin. */
  readonly input?: string;
  readonly cwd?: string;
  /** Kill after this long, ms (default 15000: RSA/EC key generation takes well under 1 s). */
  readonly timeoutMs?: number;
}

/** Largest stdout kept, bytes (certificates and keys are a few KiB). */
const MAX_OUTPUT = 1 << 20;

export async function openssl(args: readonly string[], o: OpensslOptions = {}): Promise<string> {
  return (await opensslOutput(args, o)).stdout;
}

/** Both output streams (some openssl commands report results on stderr and exit 0 regardless). */
export async function opensslOutput(args: readonly string[], o: OpensslOptions = {}): Promise<{ stdout: string; stderr: string }> {
  return await new Promise((resolve, reject) => {
    const child = spawn('openssl', [...args], { cwd: o.cwd, stdio: ['pipe', 'pipe', 'pipe'], timeout: o.timeoutMs ?? 15_000 });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => { if (out.length < MAX_OUTPUT) out += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { if (err.length < 4096) err += b.toString(); });
    child.stdin.on('error', () => undefined); // openssl may exit before reading all input
    child.once('error', (e) => reject(fail(args, `cannot run openssl: ${e.message}`)));
    child.once('close', (code, signal) => {
      if (code === 0) resolve({ stdout: out, stderr: err });
      else reject(fail(args, signal ? `killed by ${signal}` : firstLines(err) || `exit status ${code}`));
    });
    child.stdin.end(o.input ?? '');
  });
}

function firstLines(s: string): string {
  return s.split('\n').map((l) => l.trim()).filter(Boolean).slice(0, 3).join('; ').slice(0, 512);
}

function fail(args: readonly string[], why: string): VmanageError {
  return new VmanageError(ErrorCodes.PkiFailed, `openssl ${args[0] ?? ''} failed: ${why}`, { command: args[0] });
}
