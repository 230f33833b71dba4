// Runs one IPMI tool (FreeIPMI's ipmi-* or ipmitool) as a child process with a hard deadline and
// translates how it failed into VmanageError at this boundary:
//   - no answer before timeoutMs  -> TIMEOUT (the child is killed with SIGKILL at the deadline)
//   - the BMC refused the login   -> BMC_AUTH_FAILED
//   - anything else non-zero      -> BMC_PROTOCOL_ERROR (message carries the tool's stderr, trimmed)
// Output is capped (maxBytes) so a BMC that floods cannot grow memory without bound.
import { execFile } from 'node:child_process';
import { ErrorCodes, VmanageError } from '../../domain/errors.js';

export interface ToolResult { readonly stdout: string; readonly stderr: string }

export interface ToolRunner {
  run(cmd: string, args: readonly string[], opts: { timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<ToolResult>;
}

/** Failure counters a caller can read or expose through prom-client. */
export interface BmcCounters {
  calls: number;
  timeouts: number;
  authFailures: number;
  protocolErrors: number;
}

export function newBmcCounters(): BmcCounters {
  return { calls: 0, timeouts: 0, authFailures: 0, protocolErrors: 0 };
}

// What FreeIPMI and ipmitool print when the BMC refuses the user name or password.
const AUTH_PATTERNS = [
  /password invalid/i,
  /username invalid/i,
  /k_g invalid/i,
  /privilege level (?:insufficient|cannot be obtained)/i,
  /unauthorized name/i,
  /rakp \d+ message indicates an error : (?:unauthorized name|invalid integrity check|invalid role)/i,
  /rakp 2 hmac is invalid/i,
  /authentication type unavailable/i,
];

// What they print when the BMC does not answer (FreeIPMI's own timeout; ipmitool -v giving up).
// ipmitool prints the same "Unable to establish IPMI v2 / RMCP+ session" for a wrong password and
// for silence; only its -v lines before it tell the two apart.
const NO_ANSWER = /connection timeout|session timeout|timed out|get auth capabilities error|no response from remote controller/i;

export function isAuthFailure(text: string): boolean {
  return AUTH_PATTERNS.some((re) => re.test(text));
}

const MAX_OUTPUT_BYTES = 1024 * 1024;

/** The last max characters, whitespace collapsed: tools print the actual error last. */
function trimmed(s: string, max = 300): string {
  const t = s.trim().replace(/\s+/g, ' ');
  return t.length > max ? `...${t.slice(-max)}` : t;
}

/** The real runner: execFile, no shell, SIGKILL at the deadline. */
export function execRunner(counters: BmcCounters = newBmcCounters()): ToolRunner & { counters: BmcCounters } {
  return {
    counters,
    run(cmd, args, { timeoutMs, env }) {
      counters.calls++;
      return new Promise<ToolResult>((resolve, reject) => {
        execFile(cmd, [...args], {
          timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: MAX_OUTPUT_BYTES, encoding: 'utf8',
          env: env ?? { ...process.env, LC_ALL: 'C' },
        }, (err, stdout, stderr) => {
          if (!err) {
            resolve({ stdout, stderr });
            return;
          }
          const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null; code?: number | string };
          const where = { tool: cmd, args: redactArgs(args) };
          if (e.code === 'ENOENT') {
            reject(new VmanageError(ErrorCodes.Unsupported, `${cmd} is not installed`, where, { cause: err }));
          } else if (e.killed || e.signal === 'SIGKILL') {
            counters.timeouts++;
            reject(new VmanageError(ErrorCodes.Timeout, `${cmd}: BMC did not answer within ${timeoutMs} ms`, { ...where, timeoutMs }, { cause: err }));
          } else if (NO_ANSWER.test(stderr) && !isAuthFailure(stderr)) {
            counters.timeouts++;
            reject(new VmanageError(ErrorCodes.Timeout, `${cmd}: BMC did not answer: ${trimmed(stderr)}`, { ...where, timeoutMs }, { cause: err }));
          } else if (isAuthFailure(`${stderr}\n${stdout}`)) {
            counters.authFailures++;
            reject(new VmanageError(ErrorCodes.BmcAuthFailed, `${cmd}: BMC refused the login: ${trimmed(stderr || stdout)}`, where, { cause: err }));
          } else {
            counters.protocolErrors++;
            reject(new VmanageError(ErrorCodes.BmcProtocolError, `${cmd} failed (exit ${String(e.code)}): ${trimmed(stderr || stdout)}`, { ...where, stderr: trimmed(stderr, 2000) }, { cause: err }));
          }
        });
      });
    },
  };
}

/** Hides the values that follow password options, so errors and logs never carry secrets. */
export function redactArgs(args: readonly string[]): string[] {
  const secretFlags = new Set(['-p', '-P', '--password', '-k', '--k-g']);
  return args.map((a, i) => {
    if (i > 0 && secretFlags.has(args[i - 1] ?? '')) return '***';
    const eq = a.indexOf('=');
    if (eq > 0 && secretFlags.has(a.slice(0, eq))) return `${a.slice(0, eq)}=***`;
    return a;
  });
}
