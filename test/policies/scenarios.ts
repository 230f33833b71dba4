// The step-response scenarios shown in docs/policies.md (regenerate the table with
// `node --import tsx test/policies/step-report.ts`).
import type { PowerModel } from '../../src/domain/ports/power.js';
import type { LoopScenario } from './loop.js';

/** A plant that draws 15 % more dynamic power than the policies' model believes. */
export const mismatchedModel: PowerModel = {
  idleWatts: 100,
  peakWatts: 272.5,
  watts(u: number, r = 1) {
    const v = 0.55 + 0.45 * r;
    return 100 + 172.5 * Math.min(1, Math.max(0, u)) * r * v * v;
  },
};

export const STEP_SCENARIOS: readonly LoopScenario[] = [
  { name: 'load step up (work 0.4 -> 0.9, budget 200 W)', periods: 60, stepAt: 20, demand: [0.4, 0.9], budget: [200, 200] },
  { name: 'load step down (work 0.9 -> 0.5, budget 200 W)', periods: 60, stepAt: 20, demand: [0.9, 0.5], budget: [200, 200] },
  { name: 'budget cut (220 -> 170 W, work 0.8)', periods: 60, stepAt: 20, demand: [0.8, 0.8], budget: [220, 170] },
  { name: 'budget raise (170 -> 220 W, work 0.8)', periods: 60, stepAt: 20, demand: [0.8, 0.8], budget: [170, 220] },
  { name: 'load step up, sensor noise ±3 W', periods: 60, stepAt: 20, demand: [0.4, 0.9], budget: [200, 200], noiseWatts: 3 },
  { name: 'budget cut, plant 15 % hotter than the model', periods: 60, stepAt: 20, demand: [0.8, 0.8], budget: [220, 170], plantModel: mismatchedModel },
];
