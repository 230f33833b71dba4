// Aborting a running migration: POST /api/migrations/:id/abort and `vmanagectl migrations abort ID`
// send leader.command abort-migration to the source host (a real LeaderLink); the host's
// 'aborted' status ends the migration. A migration that is not running is refused (exit 3), an
// unknown one is a 404 (exit 1).
import test from 'ava';
import type { ActionAnswer, MigrationView } from '../../src/daemons/leader/api.js';
import { waitFor } from '../support/proc.js';
import { ctl } from '../cli/support.js';
import { call, startCluster, uuidOf } from './support.js';

interface ErrorBody { error: { code: string; message: string } }

test('a running migration is aborted through the API and vmanagectl; the host ends it', async (t) => {
  const c = await startCluster(t, { hosts: { h1: [{ uuid: uuidOf(1), cpuUtil: 0.3 }], h2: [] } });
  const h1 = c.hosts.get('h1')!;
  const started = await call<ActionAnswer>(c.url, 'POST', `/api/vms/${uuidOf(1)}/migrate`, { to: 'h2' });
  t.true(started.body.done, started.body.reason);
  const order = await waitFor('the migrate order at h1', () => h1.orders[0]);
  const id = order.migrationId;

  const dry = await call<ActionAnswer>(c.url, 'POST', `/api/migrations/${id}/abort`, { dryRun: true });
  t.like(dry.body, { done: true, dryRun: true });
  t.false(h1.commands.includes('abort-migration'), 'a dry run sends nothing');

  const r = await ctl(['migrations', 'abort', String(id), '--leader', c.url, '--json']);
  t.is(r.code, 0, r.err);
  const a = JSON.parse(r.out) as ActionAnswer;
  t.like(a, { done: true, dryRun: false });
  t.is(a.decisions[0]?.kind, 'migrate-vm');
  t.true(h1.commands.includes('abort-migration'));

  await h1.link.migrationStatus({ migrationId: id, vm: uuidOf(1), to: 'h2', state: 'aborted', elapsedMs: 20, error: 'aborted by the operator' });
  await waitFor('the migration aborted', async () => (await call<MigrationView[]>(c.url, 'GET', '/api/migrations')).body.find((m) => m.id === id)?.state === 'aborted');

  const again = await call<ActionAnswer>(c.url, 'POST', `/api/migrations/${id}/abort`, {});
  t.is(again.status, 200);
  t.like(again.body, { done: false, reason: `migration ${id} is aborted, not running` });
  const refused = await ctl(['migrations', 'abort', String(id), '--leader', c.url]);
  t.is(refused.code, 3);

  const unknown = await call<ErrorBody>(c.url, 'POST', '/api/migrations/999999/abort', {});
  t.is(unknown.status, 404);
  t.regex(unknown.body.error.message, /unknown migration 999999/);
  t.is((await ctl(['migrations', 'abort', '999999', '--leader', c.url])).code, 1);
  t.is((await ctl(['migrations', 'abort', 'x', '--leader', c.url])).code, 2);
});
