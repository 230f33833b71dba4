// EDAC sysfs counters (fake tree shaped like the kernel's) and rasdaemon's SQLite database
// (created with rasdaemon's own schema) as reliability inputs.
import test from 'ava';
import Database from 'better-sqlite3';
import { writeFile } from 'node:fs/promises';
import { isVmanageError } from '../../src/domain/errors.js';
import { join } from 'node:path';
import { EdacWatcher, readEdac } from '../../src/adapters/reliability/edac.js';
import { RasdaemonReader, parseRasTimestamp } from '../../src/adapters/reliability/rasdaemon.js';
import { createFakeEdac } from '../support/fake-edac.js';
import { tempDir, type Teardown } from '../support/proc.js';

const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);

for (const layout of ['dimm', 'csrow'] as const) {
  test(`EDAC counters are read per controller and per ${layout}`, async (t) => {
    const edac = await createFakeEdac(t, [{ ce: 12, ue: 0, dimms: [{ ce: 10, ue: 0, label: 'A1' }, { ce: 2, ue: 0, label: 'B1' }] }, { ce: 0, ue: 1 }], layout);
    const snap = await readEdac(edac.root);
    t.true(snap.available);
    t.deepEqual(snap.controllers.map((c) => [c.name, c.ce, c.ue, c.dimms.map((d) => [d.label, d.ce])]), [
      ['mc0', 12, 0, [['A1', 10], ['B1', 2]]],
      ['mc1', 0, 1, [[layout === 'dimm' ? 'CPU_SrcID#1_MC#0_Chan#0_DIMM#0' : 'DIMM_A1', 0]]],
    ]);
  });
}

test('the EDAC watcher takes the first read as baseline, then reports increases and counter resets', async (t) => {
  const edac = await createFakeEdac(t, [{ ce: 500, ue: 2 }]);
  const w = new EdacWatcher(edac.root);
  t.deepEqual((await w.poll(NOW)).events, []);
  await edac.set(0, { ce: 507, ue: 3 });
  t.deepEqual((await w.poll(NOW + 1)).events, [
    { kind: 'memory-ce', at: NOW + 1, count: 7, source: 'edac:mc0' },
    { kind: 'memory-ue', at: NOW + 1, count: 1, source: 'edac:mc0' },
  ]);
  await edac.set(0, { ce: 4, ue: 0 }); // reset_counters or reboot
  t.deepEqual((await w.poll(NOW + 2)).events.map((e) => [e.kind, e.count]), [['memory-ce', 4]]);
});

test('a malformed EDAC counter is skipped and counted, not read as a number', async (t) => {
  const edac = await createFakeEdac(t, [{ ce: 1, ue: 0 }]);
  await edac.writeRaw('mc0/ce_count', 'lots\n');
  const w = new EdacWatcher(edac.root);
  const r = await w.poll(NOW);
  t.true(r.available);
  t.is(w.malformedReads, 1);
});

test('a host without EDAC reports it unavailable, without an error', async (t) => {
  const dir = await tempDir(t);
  const r = await new EdacWatcher(join(dir, 'nothing-here')).poll(NOW);
  t.deepEqual(r, { available: false, events: [] });
});

// rasdaemon's schema (ras-record.c), as rasdaemon creates it.
const RAS_SCHEMA = `
CREATE TABLE IF NOT EXISTS mc_event (id INTEGER PRIMARY KEY, timestamp TEXT, err_count INTEGER, err_type TEXT, err_msg TEXT, label TEXT, mc INTEGER, top_layer INTEGER, middle_layer INTEGER, lower_layer INTEGER, address INTEGER, grain INTEGER, syndrome INTEGER, driver_detail TEXT);
CREATE TABLE IF NOT EXISTS aer_event (id INTEGER PRIMARY KEY, timestamp TEXT, err_type TEXT, err_msg TEXT);
`;

async function rasDb(t: Teardown): Promise<{ path: string; mc(ts: string, count: number, type: string): void; aer(ts: string, type: string): void }> {
  const path = join(await tempDir(t), 'ras-mc_ctl.db');
  const db = new Database(path);
  db.exec(RAS_SCHEMA);
  const mc = db.prepare('INSERT INTO mc_event VALUES (NULL, ?, ?, ?, ?, ?, 0, 1, 2, -1, 305419896, 6, 0, ?)');
  const aer = db.prepare('INSERT INTO aer_event VALUES (NULL, ?, ?, ?)');
  t.teardown(() => db.close());
  return {
    path,
    mc: (ts, count, type) => { mc.run(ts, count, type, 'memory read error', 'CPU_SrcID#0_MC#0_Chan#1_DIMM#0', 'APEI location: node:0 card:1 module:0'); },
    aer: (ts, type) => { aer.run(ts, type, 'Receiver Error'); },
  };
}

test('rasdaemon memory and PCIe events become reliability events with their own times, once', async (t) => {
  const db = await rasDb(t);
  db.mc('2026-11-25 10:00:00 +0000', 3, 'Corrected');
  db.mc('2026-11-25 13:00:00 +0200', 1, 'Uncorrected');
  db.mc('2026-11-25 11:00:00 +0000', 1, 'Info');
  db.aer('2026-11-25 11:30:00 +0000', 'Corrected');
  const r = new RasdaemonReader(db.path);
  const first = r.poll(NOW);
  t.true(first.available);
  t.deepEqual(first.events.map((e) => [e.kind, e.count, new Date(e.at).toISOString()]), [
    ['memory-ce', 3, '2026-11-25T10:00:00.000Z'],
    ['memory-ue', 1, '2026-11-25T11:00:00.000Z'],
    ['pcie-ce', 1, '2026-11-25T11:30:00.000Z'],
  ]);
  t.deepEqual(r.poll(NOW).events, [], 'rows already read are not read again');
  db.mc('2026-11-25 11:59:00 +0000', 2, 'Corrected');
  t.deepEqual(r.poll(NOW).events.map((e) => [e.kind, e.count]), [['memory-ce', 2]]);
});

test('on a big rasdaemon history the first poll reads only the newest rows, then keeps up batch by batch', async (t) => {
  const db = await rasDb(t);
  for (let i = 0; i < 7; i++) db.mc(`2026-11-25 0${i}:00:00 +0000`, i + 1, 'Corrected');
  const r = new RasdaemonReader(db.path, 3);
  t.deepEqual(r.poll(NOW).events.map((e) => e.count), [5, 6, 7]);
  for (let i = 0; i < 5; i++) db.mc('2026-11-25 11:00:00 +0000', 10 + i, 'Corrected');
  t.deepEqual(r.poll(NOW).events.map((e) => e.count), [10, 11, 12]);
  t.deepEqual(r.poll(NOW).events.map((e) => e.count), [13, 14]);
});

test('malformed rasdaemon rows are skipped and counted', async (t) => {
  const db = await rasDb(t);
  db.mc('yesterday', 1, 'Corrected');
  db.mc('2026-11-25 10:00:00 +0000', -4, 'Corrected');
  db.mc('2026-11-25 10:00:00 +0000', 1, 'Corrected');
  const r = new RasdaemonReader(db.path);
  t.is(r.poll(NOW).events.length, 1);
  t.is(r.malformedRows, 2);
});

test('a host without rasdaemon reports it unavailable', async (t) => {
  const r = new RasdaemonReader(join(await tempDir(t), 'absent.db'));
  t.deepEqual(r.poll(NOW), { available: false, events: [] });
});

test('rasdaemon timestamps honour their zone offset', (t) => {
  t.is(parseRasTimestamp('2026-11-25 13:00:00 +0200'), Date.UTC(2026, 10, 25, 11));
  t.is(parseRasTimestamp('2026-11-25 13:00:00 -0130'), Date.UTC(2026, 10, 25, 14, 30));
  t.is(parseRasTimestamp('2026-11-25 13:00:00'), Date.UTC(2026, 10, 25, 13));
  t.is(parseRasTimestamp('25/11/2026'), undefined);
  t.is(parseRasTimestamp(42), undefined);
});

const hostileDbs: [string, (path: string) => Promise<void>][] = [
  ['a file that is not a database', (p) => writeFile(p, 'SQLite format 3\u0000 but not really')],
  ['an mc_event table without rasdaemon\'s columns', async (p) => { const db = new Database(p); db.exec('CREATE TABLE mc_event (id INTEGER PRIMARY KEY, what TEXT)'); db.close(); }],
];
for (const [what, make] of hostileDbs) {
  test(`${what} in rasdaemon's place is INVALID_INPUT, not a crash`, async (t) => {
    const path = join(await tempDir(t), 'ras-mc_ctl.db');
    await make(path);
    const err = t.throws(() => new RasdaemonReader(path).poll(NOW));
    t.true(isVmanageError(err, 'INVALID_INPUT'), String(err));
  });
}
