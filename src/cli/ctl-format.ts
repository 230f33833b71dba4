// vmanagectl's human output: aligned plain-text tables and short summaries of the leader's
// views (the --json output is the API's JSON as it came). Control characters in names from the
// network are shown escaped, so a host or VM name cannot move the terminal's cursor.
import type { ActionAnswer, BudgetView, DecisionView, HostView, LeaderStatus, MigrationView, PlaceAnswer, VmView } from '../daemons/leader/api.js';

/** Printable text: control characters (C0, DEL, C1) as \xNN. */
export function clean(v: unknown): string {
  const s = v === undefined || v === null ? '-' : String(v);
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function table(head: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cells = [head.map(clean), ...rows.map((r) => r.map(clean))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n') + '\n';
}

const w = (x: number | undefined): string => (x === undefined ? '-' : `${Math.round(x)}W`);
const pct = (x: number | undefined): string => (x === undefined ? '-' : `${Math.round(x * 100)}%`);
const time = (ms: number | undefined): string => (ms === undefined ? '-' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19));
const kv = (o: Readonly<Record<string, unknown>> | undefined): string => Object.entries(o ?? {}).map(([k, v]) => `${k}=${typeof v === 'number' ? Math.round(v * 1000) / 1000 : String(v)}`).join(' ');

export function statusText(s: LeaderStatus): string {
  const lines: [string, unknown][] = [
    ['leader', `${s.id} (${s.role}${s.role !== 'leader' ? `; leader: ${s.leaderId ?? 'unknown'}` : ''})`],
    ['term', s.token],
    ['uptime', `${s.uptimeS}s`],
    ['power', `${w(s.clusterWatts)} of ${w(s.clusterBudgetWatts)} budget`],
    ['hosts', `${s.hosts.total} (${s.hosts.up} up, ${s.hosts.lost} lost, ${s.hosts.draining} draining, ${s.hosts.off} off)`],
    ['VMs', s.vms],
    ['migrating', s.migrationsInFlight],
    ['over budget', `${s.budgetViolationPct.toFixed(2)}% of host-time`],
  ];
  return lines.map(([k, v]) => `${k.padEnd(12)}${clean(v)}`).join('\n') + '\n';
}

export function hostsTable(hosts: readonly HostView[]): string {
  return table(['HOST', 'LIVENESS', 'STATE', 'POWER', 'BUDGET', 'CAP', 'RELIABILITY', 'TRUST', 'VMS', 'CPU'], hosts.map((h) => [
    h.id, h.liveness, h.state, w(h.measuredWatts), w(h.budgetWatts), h.capKHz && h.maxKHz ? `${Math.round((100 * h.capKHz) / h.maxKHz)}%` : '-',
    h.reliability.toFixed(3), h.trust, h.vms, pct(h.cpuUtil),
  ]));
}

/** A VM's placement requirements (reliability, trust) when its host reports them. */
function needs(v: VmView): string {
  const parts = [...(v.minReliability ? [`rel>=${v.minReliability}`] : []), ...(v.minTrust && v.minTrust !== 'untrusted' ? [v.minTrust] : [])];
  return parts.length > 0 ? parts.join(',') : '-';
}

export function vmsTable(vms: readonly VmView[]): string {
  return table(['VM', 'NAME', 'HOST', 'VCPUS', 'MEMORY', 'CPU', 'SLA', 'CLASS', 'NEEDS', 'MIGRATING'], vms.map((v) => [
    v.uuid, v.name ?? '-', v.host, v.vcpus, `${v.memoryMiB}MiB`, pct(v.cpuUtil), v.sla, v.slaClass, needs(v), v.migratingTo ? `-> ${v.migratingTo}` : '-',
  ]));
}

export function budgetsTable(b: BudgetView): string {
  return `cluster budget ${w(b.clusterWatts)}; last split ${time(b.lastSplitAt)}\n` + table(['HOST', 'BUDGET', 'MEASURED', 'DEMAND', 'FLOOR', 'CAP'], b.hosts.map((h) => [
    h.host, w(h.budgetWatts), w(h.measuredWatts), w(h.demandWatts), w(h.floorWatts), w(h.capWatts),
  ]));
}

export function decisionsTable(ds: readonly DecisionView[]): string {
  return table(['ID', 'TIME', 'KIND', 'TARGET', 'FROM->TO', 'VALUE', 'OUTCOME', 'REASON'], ds.map((d) => [
    d.id, time(d.at), d.kind, d.target, d.from || d.to ? `${d.from ?? ''}->${d.to ?? ''}` : '-', d.value, d.outcome ?? '-', d.reason.text,
  ]));
}

export function migrationsTable(ms: readonly MigrationView[]): string {
  return table(['ID', 'VM', 'FROM', 'TO', 'STATE', 'PROGRESS', 'STARTED', 'ERROR'], ms.map((m) => [
    m.id, m.vm, m.from, m.to, m.state, pct(m.progress), time(m.startedAt), m.error ?? '-',
  ]));
}

export function explainText(d: DecisionView): string {
  const lines: [string, unknown][] = [
    ['decision', `#${d.id} ${d.kind} ${d.target}${d.from || d.to ? ` (${d.from ?? '?'} -> ${d.to ?? '?'})` : ''}`],
    ['at', time(d.at)],
    ['policy', d.policy],
    ['value', d.value],
    ['reason', `${d.reason.text} [${d.reason.code}]`],
    ['inputs', kv(d.inputs)],
    ['predicted', kv(d.predicted)],
    ['outcome', d.outcome ?? '-'],
    ['actual', d.actual ? kv(d.actual) : '-'],
    ['term', d.token ?? '-'],
  ];
  return lines.map(([k, v]) => `${k.padEnd(10)}${clean(v)}`).join('\n') + '\n';
}

export function answerText(a: ActionAnswer): string {
  const head = `${a.dryRun ? '(dry run) ' : ''}${a.done ? (a.dryRun ? 'would do' : 'done') : 'refused'}: ${clean(a.reason)}\n`;
  return a.decisions.length > 0 ? head + decisionsTable(a.decisions) : head;
}

export function placeText(p: PlaceAnswer): string {
  const what = p.placed ? `${p.created === true ? 'created' : 'placed'} on ${clean(p.host)}${p.created === false ? ', not created' : ''}` : 'not placed';
  const head = `${p.dryRun ? '(dry run) ' : ''}${what}: ${clean(p.reason)}\n`;
  return p.decision ? head + decisionsTable([p.decision]) : head;
}
