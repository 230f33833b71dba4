// vmanagectl's leader commands (docs/api.md, packaging/man/vmanagectl.1): reads (hosts, vms,
// budgets, decisions, explain, migrations, status --leader) and actions (budgets set, place [--create --xml],
// migrate, drain, undrain, plan, migrations abort; each with --dry-run) over the leader's HTTP API. The leader is
// --leader URL, else $VMANAGE_LEADER, else http://127.0.0.1:8470. Human tables by default,
// the API's JSON with --json. Exit status: 0 ok, 1 unreachable / bad answer / not the leader /
// unknown object, 2 usage or a request the leader calls invalid, 3 the leader refused the action.
import { InvalidArgumentError, type Command } from 'commander';
import { readFileSync, statSync } from 'node:fs';
import { MAX_CREATE_XML_BYTES } from '../protocol/leader.js';
import type { ActionAnswer, BudgetView, DecisionView, HostView, LeaderStatus, MigrationView, PlaceAnswer, VmView } from '../daemons/leader/api.js';
import { CtlError, DEFAULT_LEADER_URL, leaderClient, type LeaderClient, type LeaderTarget } from './ctl-client.js';
import * as f from './ctl-format.js';

export interface CtlIo { out: (s: string) => void; err: (s: string) => void }

interface Common extends LeaderTarget { json?: boolean; dryRun?: boolean }

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function leaderUrlDefault(): string {
  return process.env['VMANAGE_LEADER'] ?? DEFAULT_LEADER_URL;
}

/** The options every leader command takes. */
export function withLeader(cmd: Command, action: boolean): Command {
  cmd.option('-l, --leader <url>', `leader HTTP API (default $VMANAGE_LEADER or ${DEFAULT_LEADER_URL})`)
    .option('--ca <file>', 'CA certificate to verify an https leader with')
    .option('--cert <file>', 'client certificate for a leader that requires one')
    .option('--key <file>', 'key of the client certificate')
    .option('--json', 'print the API\'s JSON answer');
  if (action) cmd.option('-n, --dry-run', 'say what would happen; change nothing');
  return cmd;
}

const positiveInt = (what: string, max: number) => (v: string): number => {
  const n = Number(v);
  if (!/^[0-9]+$/.test(v) || n < 1 || n > max) throw new InvalidArgumentError(`${what}: expected a whole number 1..${max}`);
  return n;
};
const fraction = (what: string) => (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`${what}: expected a number 0..1`);
  return n;
};

/** A VM by UUID, or by its name when exactly one VM has it. */
async function vmUuid(c: LeaderClient, vm: string): Promise<string> {
  if (UUID.test(vm)) return vm;
  const named = (await c.get<VmView[]>('/api/vms')).filter((v) => v.name === vm);
  if (named.length === 1) return (named[0] as VmView).uuid;
  throw new CtlError(named.length === 0 ? `no VM is named ${JSON.stringify(vm)} (give its UUID or name; see vmanagectl vms)` : `${named.length} VMs are named ${JSON.stringify(vm)}: give the UUID`, 1);
}

export function registerLeaderCommands(program: Command, io: CtlIo, setExit: (code: number) => void): void {
  /** Runs fn against the leader and prints its human text or the JSON; maps failures to exit codes. */
  const run = <A extends unknown[]>(fn: (c: LeaderClient, o: Common, ...args: A) => Promise<{ json: unknown; text: string; refused?: boolean }>) =>
    async (...argv: unknown[]): Promise<void> => {
      const cmd = argv[argv.length - 1] as Command;
      const o = cmd.opts<Common>();
      try {
        const c = leaderClient({ ...o, leader: o.leader ?? leaderUrlDefault() });
        const r = await fn(c, o, ...(argv.slice(0, -2) as A));
        io.out(o.json ? `${JSON.stringify(r.json, null, 2)}\n` : r.text);
        setExit(r.refused ? 3 : 0);
      } catch (err) {
        if (!(err instanceof CtlError)) throw err;
        io.err(`vmanagectl: ${err.message}\n`);
        setExit(err.exitCode);
      }
    };
  const dry = (o: Common): { dryRun: boolean } => ({ dryRun: o.dryRun === true });
  const answered = (a: ActionAnswer) => ({ json: a, text: f.answerText(a), refused: !a.done });

  withLeader(program.command('hosts').description('list the hosts the leader knows'), false)
    .action(run(async (c) => { const h = await c.get<HostView[]>('/api/hosts'); return { json: h, text: f.hostsTable(h) }; }));
  withLeader(program.command('vms').description('list the VMs on the hosts'), false)
    .action(run(async (c) => { const v = await c.get<VmView[]>('/api/vms'); return { json: v, text: f.vmsTable(v) }; }));
  withLeader(program.command('budgets').argument('[set]', '"set" to change the cluster budget').argument('[watts]', 'new cluster power budget, W')
    .description('show the power budgets, or `budgets set WATTS` the cluster budget'), true)
    .action(run(async (c, o, verb?: string, watts?: string) => {
      if (verb === undefined) { const b = await c.get<BudgetView>('/api/budgets'); return { json: b, text: f.budgetsTable(b) }; }
      const n = Number(watts);
      if (verb !== 'set' || watts === undefined || !Number.isFinite(n) || n <= 0) throw new CtlError('usage: vmanagectl budgets set WATTS (a positive number of watts)', 2);
      return answered(await c.send<ActionAnswer>('PUT', '/api/budgets', { watts: n, ...dry(o) }));
    }));
  withLeader(program.command('place').description('choose a host for a new VM (and journal the decision); with --create --xml FILE the host defines and starts it'), true)
    .option('--vcpus <n>', 'vCPUs (with --xml: read from the XML)', positiveInt('--vcpus', 1024))
    .option('--memory <MiB>', 'memory, MiB (with --xml: read from the XML)', positiveInt('--memory', 64 * 1024 * 1024))
    .option('--name <name>', 'VM name')
    .option('--cpu-util <fraction>', 'expected CPU use, fraction of its vCPUs (default 0.5)', fraction('--cpu-util'))
    .option('--sla <class>', 'SLA class: gold, silver or bronze')
    .option('--min-reliability <fraction>', 'least host reliability', fraction('--min-reliability'))
    .option('--min-trust <level>', 'least host trust: untrusted, standard, trusted, attested')
    .option('--affinity <group>', 'place with this group').option('--anti-affinity <group>', 'place away from this group')
    .option('--xml <file>', 'libvirt domain XML of the VM')
    .option('--create', 'define and start the VM on the chosen host (needs --xml)')
    .action(run(async (c, o) => {
      const p = o as Common & { vcpus?: number; memory?: number; name?: string; cpuUtil?: number; sla?: string; minReliability?: number; minTrust?: string; affinity?: string; antiAffinity?: string; xml?: string; create?: boolean };
      if (p.create === true && p.xml === undefined) throw new CtlError('place --create needs --xml FILE (the domain XML to define)', 2);
      if (p.xml === undefined && (p.vcpus === undefined || p.memory === undefined)) throw new CtlError('place needs --vcpus and --memory (or --xml FILE)', 2);
      const xml = p.xml !== undefined ? readXml(p.xml) : undefined;
      const body = {
        ...(p.vcpus !== undefined ? { vcpus: p.vcpus } : {}), ...(p.memory !== undefined ? { memoryMiB: p.memory } : {}), ...dry(o),
        ...(p.name !== undefined ? { name: p.name } : {}), ...(p.cpuUtil !== undefined ? { cpuUtil: p.cpuUtil } : {}),
        ...(p.sla !== undefined ? { slaClass: p.sla } : {}), ...(p.minReliability !== undefined ? { minReliability: p.minReliability } : {}),
        ...(p.minTrust !== undefined ? { minTrust: p.minTrust } : {}), ...(p.affinity !== undefined ? { affinityGroup: p.affinity } : {}),
        ...(p.antiAffinity !== undefined ? { antiAffinityGroup: p.antiAffinity } : {}),
        ...(xml !== undefined ? { xml } : {}), ...(p.create === true ? { create: true } : {}),
      };
      // Creating waits for the host (the leader's failure.commandTimeoutMs, 10 s by default).
      const a = await c.send<PlaceAnswer>('POST', '/api/place', body, p.create === true ? 120_000 : undefined);
      return { json: a, text: f.placeText(a), refused: !a.placed || a.created === false };
    }));
  withLeader(program.command('migrate').argument('<vm>', 'VM UUID or name').description('live-migrate a VM (to HOST, or where the planner chooses)'), true)
    .option('--to <host>', 'destination host')
    .action(run(async (c, o, vm: string) => {
      const uuid = await vmUuid(c, vm);
      const to = (o as Common & { to?: string }).to;
      return answered(await c.send<ActionAnswer>('POST', `/api/vms/${encodeURIComponent(uuid)}/migrate`, { ...(to !== undefined ? { to } : {}), ...dry(o) }));
    }));
  for (const verb of ['drain', 'undrain'] as const) {
    withLeader(program.command(verb).argument('<host>', 'host name')
      .description(verb === 'drain' ? 'take no new VM on HOST and move its VMs away' : 'put a drained HOST back in service'), true)
      .action(run(async (c, o, host: string) => answered(await c.send<ActionAnswer>('POST', `/api/hosts/${encodeURIComponent(host)}/${verb}`, dry(o)))));
  }
  withLeader(program.command('plan').description('run one migration-planning and consolidation pass now'), true)
    .action(run(async (c, o) => answered(await c.send<ActionAnswer>('POST', '/api/plan', dry(o)))));
  withLeader(program.command('decisions').description('the decision journal, newest first'), false)
    .option('--limit <n>', 'how many (default 20)', positiveInt('--limit', 1000), 20)
    .option('--before <id>', 'only decisions older than this id', positiveInt('--before', Number.MAX_SAFE_INTEGER))
    .action(run(async (c, o) => {
      const q = o as Common & { limit: number; before?: number };
      const d = await c.get<DecisionView[]>(`/api/decisions?limit=${q.limit}${q.before !== undefined ? `&before=${q.before}` : ''}`);
      return { json: d, text: f.decisionsTable(d) };
    }));
  withLeader(program.command('explain').argument('<id>', 'decision id').description('one decision: inputs, reason, predicted and actual effect'), false)
    .action(run(async (c, _o, id: string) => {
      if (!/^[0-9]{1,15}$/.test(id)) throw new CtlError(`explain: expected a decision id (a number), got ${JSON.stringify(id)}`, 2);
      const d = await c.get<DecisionView>(`/api/decisions/${id}`);
      return { json: d, text: f.explainText(d) };
    }));
  withLeader(program.command('migrations').argument('[abort]', '"abort" to abort a running migration').argument('[id]', 'migration id')
    .description('recent and running migrations, or `migrations abort ID` a running one'), true)
    .option('--limit <n>', 'how many (default 20)', positiveInt('--limit', 1000), 20)
    .action(run(async (c, o, verb?: string, id?: string) => {
      if (verb === undefined) {
        const m = await c.get<MigrationView[]>(`/api/migrations?limit=${(o as Common & { limit: number }).limit}`);
        return { json: m, text: f.migrationsTable(m) };
      }
      if (verb !== 'abort' || id === undefined || !/^[0-9]{1,15}$/.test(id)) throw new CtlError('usage: vmanagectl migrations abort ID (a migration id, see vmanagectl migrations)', 2);
      return answered(await c.send<ActionAnswer>('POST', `/api/migrations/${id}/abort`, dry(o)));
    }));
}

/** `status --leader`: the leader's status. */
export async function leaderStatus(t: LeaderTarget, json: boolean): Promise<string> {
  const s = await leaderClient(t).get<LeaderStatus>('/api/status');
  return json ? `${JSON.stringify(s, null, 2)}\n` : f.statusText(s);
}

/** Largest --xml file read, bytes (the leader accepts at most MAX_CREATE_XML_BYTES). */
const MAX_XML_FILE = 1 << 20;

function readXml(file: string): string {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (err) {
    throw new CtlError(`--xml ${file}: ${(err as Error).message}`, 2);
  }
  if (size > MAX_XML_FILE) throw new CtlError(`--xml ${file}: ${size} bytes; a domain XML is at most ${MAX_CREATE_XML_BYTES} bytes`, 2);
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CtlError(`--xml ${file}: ${(err as Error).message}`, 2);
  }
}
