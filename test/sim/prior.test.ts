// The type prior a young VM's planned peak is shrunk towards (src/sim/vmanage/leader.ts).
import test from 'ava';
import fc from 'fast-check';
import { priorPeak } from '../../src/sim/vmanage/leader.js';

const cases: Array<[string, number, number, number, number, number]> = [
  // name, observed, n, k, prior, expected
  ['no prior weight gives the observed peak', 0.1, 1, 0, 0.9, 0.1],
  ['one sample against five of prior is mostly the prior', 0.0, 1, 5, 0.6, 0.5],
  ['equal weights give the mean', 0.2, 5, 5, 0.6, 0.4],
  ['a prior below the observation never lowers the peak', 0.8, 1, 5, 0.2, 0.8],
  ['many samples outweigh the prior', 0.1, 995, 5, 0.9, 0.104],
];
for (const [name, observed, n, k, prior, expected] of cases) {
  test(`priorPeak: ${name}`, (t) => {
    t.true(Math.abs(priorPeak(observed, n, k, prior) - expected) < 1e-9, String(priorPeak(observed, n, k, prior)));
  });
}

test('priorPeak stays between the observed peak and max(observed, prior) and falls as samples accrue', (t) => {
  const unit = fc.double({ min: 0, max: 1, noNaN: true });
  fc.assert(fc.property(unit, unit, fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 0, max: 50 }), (obs, prior, n, k) => {
    const p = priorPeak(obs, n, k, prior);
    return p >= obs && p <= Math.max(obs, prior) + 1e-12 && priorPeak(obs, n + 1, k, prior) <= p + 1e-12;
  }));
  t.pass();
});
