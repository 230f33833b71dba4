// Prints the step-response table (markdown) and an ASCII plot of one scenario for docs/policies.md:
//   node --import tsx test/policies/step-report.ts
import { runLoop, stepMetrics } from './loop.js';
import { STEP_SCENARIOS } from './scenarios.js';

const BAND = 4;
const rows: string[] = ['| scenario | settling (periods) | max over budget (W) | longest run over budget (periods) | final power (W) | cap reversals, last 20 periods |', '|---|---|---|---|---|---|'];
for (const sc of STEP_SCENARIOS) {
  const m = stepMetrics(await runLoop(sc), sc.stepAt, BAND + (sc.noiseWatts ?? 0));
  rows.push(`| ${sc.name} | ${m.settlingPeriods} | ${m.overshootWatts} | ${m.longestOverRun} | ${m.finalWatts} | ${m.tailReversals} |`);
}
process.stdout.write(`${rows.join('\n')}\n\n`);

for (const index of [0, 3, 5]) {
  const sc = STEP_SCENARIOS[index]!;
  const t = await runLoop(sc);
  process.stdout.write(`${sc.name}: power per period after the step (each # = 2 W above 150 W, | = budget)\n`);
  for (let k = sc.stepAt - 2; k < sc.stepAt + 8; k++) {
    const w = t.watts[k]!;
    const bar = '#'.repeat(Math.max(0, Math.round((w - 150) / 2)));
    const at = Math.round((t.budget[k]! - 150) / 2);
    const line = bar.length >= at ? `${bar.slice(0, at)}|${bar.slice(at)}` : `${bar}${' '.repeat(at - bar.length)}|`;
    process.stdout.write(`${String(k - sc.stepAt).padStart(3)} ${w.toFixed(1).padStart(6)} W  cap ${(t.capKHz[k]! / 1000).toFixed(0).padStart(4)} MHz  ${line}\n`);
  }
  process.stdout.write('\n');
}
