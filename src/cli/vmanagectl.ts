// vmanagectl: the operator's command line (packaging/man/vmanagectl.1). `status` asks the host
// daemon on this machine over its control socket, or the leader with --leader / $VMANAGE_LEADER;
// the leader commands (ctl-leader.ts) speak the leader's HTTP API; the certificate commands are
// ctl-ca.ts. Exit status: 0 on success, 1 when a daemon cannot be reached or answers badly,
// 2 for usage errors, 3 when the leader refused an action.
import { Command, CommanderError } from 'commander';
import { createConnection } from 'node:net';
import pkg from '../../package.json' with { type: 'json' };
import { registerCaCommands } from './ctl-ca.js';
import { CtlError } from './ctl-client.js';
import { leaderStatus, registerLeaderCommands } from './ctl-leader.js';

/** Where the host daemon listens for control requests (one JSON object per line). */
export const DEFAULT_CONTROL_SOCKET = '/run/vmanage/control.sock';
/** Bound on one status round trip, ms. */
const STATUS_TIMEOUT_MS = 3_000;
/** A reply longer than this is a protocol violation, not something to buffer, bytes. */
const MAX_REPLY_BYTES = 1 << 20;

export interface Io { out: (s: string) => void; err: (s: string) => void }

/** Sends {"op":"status"} and resolves with the first reply line, parsed. Rejects with a message
 *  that says what failed and where. */
export function requestStatus(socket: string, timeoutMs = STATUS_TIMEOUT_MS): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const conn = createConnection(socket);
    let buf = '';
    const fail = (msg: string): void => { conn.destroy(); reject(new Error(msg)); };
    const timer = setTimeout(() => fail(`no answer from ${socket} within ${timeoutMs} ms`), timeoutMs);
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write('{"op":"status"}\n'));
    conn.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      fail(`cannot reach the host daemon at ${socket}: ${e.code ?? e.message}`);
    });
    conn.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) {
        if (buf.length > MAX_REPLY_BYTES) { clearTimeout(timer); fail(`${socket}: reply longer than ${MAX_REPLY_BYTES} bytes`); }
        return;
      }
      clearTimeout(timer);
      conn.end();
      try {
        resolve(JSON.parse(buf.slice(0, nl)));
      } catch {
        reject(new Error(`${socket}: the reply is not JSON: ${JSON.stringify(buf.slice(0, Math.min(nl, 200)))}`));
      }
    });
    conn.on('end', () => { clearTimeout(timer); if (!buf.includes('\n')) fail(`${socket}: closed without an answer`); });
  });
}

export function buildProgram(io: Io, setExit: (code: number) => void): Command {
  const program = new Command('vmanagectl')
    .description('vmanage operator command line')
    .version(pkg.version, '-V, --version', 'print the vmanage version')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride();
  program.command('status')
    .description('show the state of the host daemon (vmanage-mvm) on this machine, or of the leader with --leader')
    .option('-s, --socket <path>', 'control socket of the host daemon (default $VMANAGE_CONTROL_SOCKET or ' + DEFAULT_CONTROL_SOCKET + ')')
    .option('-l, --leader <url>', 'ask the leader at this URL instead (default with no --socket: $VMANAGE_LEADER when set)')
    .option('--ca <file>', 'CA certificate to verify an https leader with')
    .option('--cert <file>', 'client certificate for a leader that requires one')
    .option('--key <file>', 'key of the client certificate')
    .option('--json', 'print the raw JSON answer')
    .action(async (opts: { socket?: string; leader?: string; ca?: string; cert?: string; key?: string; json?: boolean }) => {
      const leader = opts.leader ?? (opts.socket === undefined ? process.env['VMANAGE_LEADER'] : undefined);
      if (leader !== undefined) {
        try {
          io.out(await leaderStatus({ leader, ...(opts.ca ? { ca: opts.ca } : {}), ...(opts.cert ? { cert: opts.cert } : {}), ...(opts.key ? { key: opts.key } : {}) }, opts.json === true));
          setExit(0);
        } catch (err) {
          if (!(err instanceof CtlError)) throw err;
          io.err(`vmanagectl: ${err.message}\n`);
          setExit(err.exitCode);
        }
        return;
      }
      const socket = opts.socket ?? process.env['VMANAGE_CONTROL_SOCKET'] ?? DEFAULT_CONTROL_SOCKET;
      try {
        const reply = await requestStatus(socket);
        io.out(JSON.stringify(reply, null, opts.json ? 0 : 2) + '\n');
        setExit(0);
      } catch (err) {
        io.err(`vmanagectl: ${(err as Error).message}\n` +
          'vmanagectl: is vmanage-mvm running? (systemctl status vmanage-mvm)\n');
        setExit(1);
      }
    });
  registerLeaderCommands(program, io, setExit);
  registerCaCommands(program, io, setExit);
  return program;
}

export async function run(argv: readonly string[], io: Io): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => { code = c; });
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
    }
    throw err;
  }
  return code;
}

const isMain = process.argv[1] !== undefined && /vmanagectl(\.[cm]?[jt]s)?$/.test(process.argv[1]);
if (isMain) {
  run(process.argv.slice(2), { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) })
    .then((code) => { process.exitCode = code; }, (err: unknown) => {
      process.stderr.write(`vmanagectl: ${String(err)}\n`);
      process.exitCode = 1;
    });
}
