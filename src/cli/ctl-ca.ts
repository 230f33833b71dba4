// vmanagectl certificate commands (docs/certificates.md):
//   ca init  --dir D [--name N] [--days N]        the cluster CA (ca.key 0600, ca.crt) in D
//   ca issue --name H [--dir D] [--out O] [--san a,b] [--days N]
//                                                  a key + certificate for H made on the CA machine
//   ca token --name H [--dir D] [--ttl 1h]         a one-time join token for H (stored hashed in
//                                                  D/tokens.json; printed once)
//   join --leader URL --token T --name H [--dir D] [--ca-sha256 HEX] [--https-ca FILE]
//                                                  key + CSR made here, certificate from the leader
// Exit status: 0 on success, 1 when the operation fails (message on stderr), 2 for usage errors.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { systemClock } from '../adapters/clock.js';
import { initCa, issueCert } from '../adapters/pki/ca.js';
import { groupId, joinLeader } from '../adapters/pki/join-client.js';
import { JoinTokens, TOKENS_FILE } from '../adapters/pki/tokens.js';
import { ErrorCodes, VmanageError } from '../domain/errors.js';
import { join } from 'node:path';

export const DEFAULT_PKI_DIR = '/etc/vmanage/pki';

export interface CaIo { out: (s: string) => void; err: (s: string) => void }

const processIo: CaIo = { out: (s) => void process.stdout.write(s), err: (s) => void process.stderr.write(s) };

/** "90s", "15m", "1h", "7d" (or a plain number of seconds) -> ms. */
export function parseDuration(s: string): number {
  const m = /^([0-9]{1,7})([smhd]?)$/.exec(s.trim());
  if (!m) throw new VmanageError(ErrorCodes.InvalidInput, `--ttl: expected a duration like 30m, 1h or 7d, got ${JSON.stringify(s).slice(0, 40)}`, {});
  const unit = { '': 1000, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

function days(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n)) throw new VmanageError(ErrorCodes.InvalidInput, `--days: expected whole days, got ${JSON.stringify(s).slice(0, 40)}`, {});
  return n;
}

function list(s: string): string[] {
  return s.split(',').map((x) => x.trim()).filter(Boolean);
}

/**
 * Adds `ca init|issue|token` and `join` to program. io and setExit default to the process's
 * stdout/stderr and process.exitCode (vmanagectl passes its own for tests).
 */
export function registerCaCommands(program: Command, io: CaIo = processIo, setExit: (code: number) => void = (c) => { process.exitCode = c; }): void {
  const act = <O>(fn: (o: O) => Promise<string>) => async (o: O): Promise<void> => {
    try {
      io.out(await fn(o));
      setExit(0);
    } catch (err) {
      io.err(`vmanagectl: ${(err as Error).message}\n`);
      setExit(1);
    }
  };
  const ca = program.command('ca').description('cluster certificate authority (run on the leader)');
  ca.command('init')
    .description('create the cluster CA: ca.key (mode 0600) and ca.crt')
    .option('--dir <path>', 'CA directory', DEFAULT_PKI_DIR)
    .option('--name <cn>', 'CA certificate name', 'vmanage-ca')
    .option('--days <n>', 'validity, days', days, 3650)
    .action(act(async (o: { dir: string; name: string; days: number }) => {
      const r = await initCa(o.dir, { name: o.name, days: o.days });
      return `CA created: ${r.certPath} (key ${r.keyPath}, mode 0600)\n`;
    }));
  ca.command('issue')
    .description('make a key and a certificate signed by the CA (the leader\'s own, or a host set up by hand)')
    .requiredOption('--name <name>', 'certificate name (CN): the host id or the leader name')
    .option('--dir <path>', 'CA directory', DEFAULT_PKI_DIR)
    .option('--out <path>', 'where NAME.key and NAME.crt go (default: the CA directory)')
    .option('--san <names>', 'DNS names / IP addresses, comma-separated (default: the name)', list)
    .option('--days <n>', 'validity, days', days, 825)
    .action(act(async (o: { name: string; dir: string; out?: string; san?: string[]; days: number }) => {
      const r = await issueCert(o.dir, { name: o.name, days: o.days, ...(o.san ? { san: o.san } : {}), ...(o.out ? { outDir: o.out } : {}) });
      return `certificate ${r.certPath}\nkey ${r.keyPath} (mode 0600)\n`;
    }));
  ca.command('token')
    .description('make a one-time join token for a host (stored hashed in DIR/tokens.json)')
    .requiredOption('--name <name>', 'the host name the token is for')
    .option('--dir <path>', 'CA directory', DEFAULT_PKI_DIR)
    .option('--ttl <duration>', 'validity: 30m, 1h, 7d', '1h')
    .option('--json', 'print {token, name, expiresAt}')
    .action(act(async (o: { name: string; dir: string; ttl: string; json?: boolean }) => {
      const tokens = new JoinTokens(join(o.dir, TOKENS_FILE), systemClock);
      const r = tokens.create(o.name, parseDuration(o.ttl));
      const expires = new Date(r.expiresAt).toISOString();
      if (o.json) return `${JSON.stringify({ token: r.token, name: o.name, expiresAt: expires })}\n`;
      return `${r.token}\n(for ${o.name}, one use, expires ${expires})\n`;
    }));
  program.command('join')
    .description('get this host\'s certificate from the leader with a one-time token (the key is made here and never sent)')
    .requiredOption('--leader <url>', 'the leader\'s HTTP API, e.g. https://leader:8470')
    .requiredOption('--token <token>', 'the one-time token from "vmanagectl ca token"')
    .requiredOption('--name <name>', 'this host\'s name (the token is bound to it)')
    .option('--dir <path>', 'where NAME.key, NAME.crt and ca.crt go', DEFAULT_PKI_DIR)
    .option('--ca-sha256 <hex>', 'expected SHA-256 fingerprint of the cluster CA certificate')
    .option('--https-ca <file>', 'CA certificate to verify the leader\'s HTTPS certificate with')
    .option('--group <name>', `group that may read the key (key 0640, dir 0750); default: ${DAEMON_GROUP} when run as root and that group exists`)
    .option('--no-group', 'key readable by its owner only (0600)')
    .action(act(async (o: { leader: string; token: string; name: string; dir: string; caSha256?: string; httpsCa?: string; group?: string | false }) => {
      const gid = keyGroup(o.group);
      const r = await joinLeader({
        leaderUrl: o.leader, token: o.token, name: o.name, dir: o.dir, ...(gid !== undefined ? { gid: gid.id } : {}),
        ...(o.caSha256 ? { caSha256: o.caSha256 } : {}), ...(o.httpsCa ? { httpsCa: readFileSync(o.httpsCa, 'utf8') } : {}),
      });
      const mode = gid !== undefined ? `mode 0640, group ${gid.name}` : 'mode 0600';
      return `certificate ${r.certPath}\nkey ${r.keyPath} (${mode}, made here)\nCA ${r.caPath} (SHA-256 ${r.caSha256})\n`;
    }));
}

/** The group the host daemon runs as (packaging/common/sysusers.conf): it reads the host's key. */
const DAEMON_GROUP = 'vmanage';

/** --group NAME: that group or an error; --no-group: none; neither: vmanage if root and it exists. */
function keyGroup(opt: string | false | undefined): { name: string; id: number } | undefined {
  if (opt === false) return undefined;
  if (opt === undefined) {
    const id = process.getuid?.() === 0 ? groupId(DAEMON_GROUP) : undefined;
    return id !== undefined ? { name: DAEMON_GROUP, id } : undefined;
  }
  const id = groupId(opt);
  if (id === undefined) throw new VmanageError(ErrorCodes.InvalidInput, `--group: no group named "${opt}" in /etc/group`, { group: opt });
  return { name: opt, id };
}
