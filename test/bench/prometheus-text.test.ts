/**
 * The strict Prometheus text parser (bench/prometheus-text.ts) that the metrics acceptance test relies
 * on: it must accept what prom-client writes and reject what a Prometheus server would not take.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Histogram, Registry } from 'prom-client';
import { parsePrometheusText, PrometheusParseError, sumSamples } from '../../bench/prometheus-text.ts';

test('parses what prom-client writes: types, help, labels with escapes, histogram buckets', async () => {
  const registry = new Registry();
  const counter = new Counter({ name: 'demo_total', help: 'A "demo" counter\\with a backslash', labelNames: ['k'], registers: [registry] });
  counter.inc({ k: 'a"b\\c\nd' }, 3);
  counter.inc({ k: 'plain' });
  const histogram = new Histogram({ name: 'demo_seconds', help: 'h', labelNames: ['op'], buckets: [0.1, 1], registers: [registry] });
  histogram.observe({ op: 'get' }, 0.05);
  histogram.observe({ op: 'get' }, 5);
  const families = parsePrometheusText(await registry.metrics());
  const demo = families.get('demo_total');
  assert.equal(demo?.type, 'counter');
  assert.equal(demo?.help, 'A "demo" counter\\with a backslash');
  assert.equal(sumSamples(families, 'demo_total', { k: 'a"b\\c\nd' }), 3);
  assert.equal(sumSamples(families, 'demo_total'), 4);
  const seconds = families.get('demo_seconds');
  assert.equal(seconds?.type, 'histogram');
  assert.equal(sumSamples(families, 'demo_seconds_bucket', { op: 'get', le: '0.1' }), 1);
  assert.equal(sumSamples(families, 'demo_seconds_bucket', { op: 'get', le: '+Inf' }), 2);
  assert.equal(sumSamples(families, 'demo_seconds_count', { op: 'get' }), 2);
  assert.equal(sumSamples(families, 'demo_seconds_sum', { op: 'get' }), 5.05);
});

test('accepts special values, timestamps and plain comments', () => {
  const families = parsePrometheusText('# a comment\n# TYPE g gauge\ng{a="1"} +Inf\ng{a="2"} -Inf 1700000000000\ng{a="3"} NaN\ng{a="4"} Nan\ng{a="5"} -inf\ng 1.5e-3\n');
  assert.equal(families.get('g')?.samples.length, 6);
  assert.ok(Number.isNaN(sumSamples(families, 'g', { a: '4' })), 'prom-client writes NaN as "Nan"; Prometheus accepts it');
  assert.equal(sumSamples(families, 'g', { a: '2' }), Number.NEGATIVE_INFINITY);
});

const invalid: Array<[string, string, RegExp]> = [
  ['bad metric name', '9metric 1\n', /invalid metric name/],
  ['missing value', 'metric\n', /sample without a value/],
  ['non-numeric value', 'metric abc\n', /invalid value/],
  ['half a number', 'metric 1.2.3\n', /invalid value/],
  ['unquoted label value', 'metric{a=b} 1\n', /not quoted/],
  ['bad escape', 'metric{a="\\x"} 1\n', /invalid escape/],
  ['unterminated label value', 'metric{a="x} 1\n', /unterminated/],
  ['duplicate label', 'metric{a="1",a="2"} 1\n', /given twice/],
  ['duplicate series', 'metric{a="1"} 1\nmetric{a="1"} 2\n', /duplicate series/],
  ['TYPE after samples', 'metric 1\n# TYPE metric gauge\n', /after its samples/],
  ['second HELP', '# HELP m one\n# HELP m two\n', /second HELP/],
  ['unknown type', '# TYPE m meter\n', /unknown metric type/],
  ['split family', 'a 1\nb 1\na{x="1"} 1\n', /not contiguous/],
  ['negative counter', '# TYPE c_total counter\nc_total -1\n', /negative/],
  ['trailing garbage', 'metric 1 2 3\n', /optional timestamp/],
  [
    'buckets not cumulative',
    '# TYPE h histogram\nh_bucket{le="1"} 5\nh_bucket{le="+Inf"} 3\nh_sum 1\nh_count 3\n',
    /count falls/,
  ],
  ['+Inf differs from _count', '# TYPE h histogram\nh_bucket{le="+Inf"} 3\nh_sum 1\nh_count 4\n', /differs from _count/],
  ['no +Inf bucket', '# TYPE h histogram\nh_bucket{le="1"} 3\nh_sum 1\nh_count 3\n', /no \+Inf bucket/],
  ['histogram without _count', '# TYPE h histogram\nh_bucket{le="+Inf"} 3\nh_sum 1\n', /without _count/],
  ['bucket without le', '# TYPE h histogram\nh_bucket 3\nh_sum 1\nh_count 3\n', /without an "le" label/],
];

for (const [what, text, message] of invalid) {
  test(`rejects ${what}`, () => {
    assert.throws(() => parsePrometheusText(text), (error: unknown) => error instanceof PrometheusParseError && message.test(error.message));
  });
}
