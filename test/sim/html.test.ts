import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeHtmlReport, type SeriesPoint } from '../../src/sim/html.js';
import { createPolicy } from '../../src/sim/policies/index.js';
import { toReport } from '../../src/sim/report.js';
import { simulate } from '../../src/sim/run.js';
import { referenceSetup } from '../../src/sim/setup.js';
import { tempDir } from '../support/proc.js';

test('the HTML report holds the table and three SVG charts with the budget line, and escapes names', async (t) => {
  const w = { source: 't', vmNames: ['a', 'b'], intervals: 3, utilisation: [Float64Array.of(0.3, 0.4, 0.5), Float64Array.of(0.2, 0.2, 0.2)] };
  const points: SeriesPoint[] = [];
  const r = simulate({ workload: w, policy: createPolicy('dvfs'), setup: referenceSetup(2, 2), onStep: (k, watts, migrations, slaS) => {
    points.push({ policy: '<dvfs>', hour: k / 12, kW: watts / 1000, migrations, slaVmHours: slaS / 3600 });
  } });
  const file = join(await tempDir(t), 'r.html');
  await writeHtmlReport(file, 'test', [{ policy: '<dvfs>', report: toReport(r, 0.1) }], points, 150);
  const html = readFileSync(file, 'utf8');
  t.is(html.match(/<svg/g)?.length, 3);
  t.true(html.includes('&lt;dvfs&gt;'));
  t.false(html.includes('<dvfs>'));
  t.true(html.includes('energyKWh'));
});
