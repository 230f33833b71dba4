import test from 'ava';
import fc from 'fast-check';
import { bucketQuantile, counterValue, histogramBuckets, parseExposition } from '../../src/daemons/agent/prom.js';

const text = `# HELP req_seconds Request latency
# TYPE req_seconds histogram
req_seconds_bucket{path="/a",le="0.01"} 10
req_seconds_bucket{path="/a",le="0.05"} 90
req_seconds_bucket{path="/a",le="0.1"} 98
req_seconds_bucket{path="/a",le="+Inf"} 100
req_seconds_sum{path="/a"} 3.2
req_seconds_count{path="/a"} 100
req_total{code="200"} 1000 1712345678000
req_total{code="500"} 20
this is not a sample
`;

test('the exposition format is parsed into samples, counting bad lines', (t) => {
  const r = parseExposition(text);
  t.is(r.samples.length, 8);
  t.is(r.badLines, 1);
  t.deepEqual(r.samples[0], { name: 'req_seconds_bucket', labels: { path: '/a', le: '0.01' }, value: 10 });
});

test('the p95 of a histogram interpolates inside its bucket as histogram_quantile does', (t) => {
  const b = histogramBuckets(parseExposition(text).samples, 'req_seconds');
  // rank 95 lies in (0.05, 0.1] holding 90..98: 0.05 + 0.05 * 5/8
  t.is(bucketQuantile(0.95, b)?.toFixed(6), (0.05 + 0.05 * 5 / 8).toFixed(6));
  t.is(bucketQuantile(0.5, b)?.toFixed(6), (0.01 + 0.04 * 40 / 80).toFixed(6));
  t.is(bucketQuantile(0.5, []), undefined);
});

test('counters are summed over the series that match the labels', (t) => {
  const s = parseExposition(text).samples;
  t.is(counterValue(s, 'req_total'), 1020);
  t.is(counterValue(s, 'req', { code: '500' }), 20);
  t.is(counterValue(s, 'absent'), undefined);
});

test('any text parses without throwing and within the sample bound', (t) => {
  fc.assert(fc.property(fc.string({ maxLength: 2000 }), fc.array(fc.constantFrom('a{b="c"} 1', 'x 2', '{', 'a{le="+Inf"} NaN', '# c')), (junk, lines) => {
    const r = parseExposition([junk, ...lines].join('\n'), 5);
    return r.samples.length <= 5;
  }), { numRuns: 300 });
  t.pass();
});
