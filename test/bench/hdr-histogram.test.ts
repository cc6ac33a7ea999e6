import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HdrHistogram } from '../../bench/hdr-histogram.ts';

test('percentiles of 1..100000 are exact to 3 significant digits', () => {
  const histogram = new HdrHistogram();
  for (let value = 1; value <= 100_000; value++) histogram.record(value);
  assert.equal(histogram.totalCount, 100_000);
  assert.equal(histogram.min, 1);
  assert.equal(histogram.max, 100_000);
  for (const [percentile, expected] of [[50, 50_000], [95, 95_000], [99, 99_000], [99.9, 99_900], [100, 100_000]] as const) {
    const got = histogram.valueAtPercentile(percentile);
    assert.ok(Math.abs(got - expected) / expected <= 0.001, `p${percentile}: ${got}, expected ${expected} ±0.1%`);
  }
});

test('small values are exact and huge values keep their precision', () => {
  const histogram = new HdrHistogram();
  for (const value of [0, 1, 2, 3, 2047]) histogram.record(value);
  assert.equal(histogram.valueAtPercentile(20), 0);
  assert.equal(histogram.valueAtPercentile(60), 2);
  assert.equal(histogram.valueAtPercentile(100), 2047);
  const big = new HdrHistogram();
  big.record(3_600_000_000);
  assert.ok(Math.abs(big.valueAtPercentile(50) - 3_600_000_000) / 3_600_000_000 <= 0.001);
  assert.throws(() => big.record(-1), RangeError);
});

test('an empty histogram reports zeros', () => {
  const histogram = new HdrHistogram();
  assert.equal(histogram.valueAtPercentile(99), 0);
  assert.equal(histogram.min, 0);
});

test('HdrHistogram.of records every value it is given', () => {
  const histogram = HdrHistogram.of([5, 1, 3]);
  assert.equal(histogram.totalCount, 3);
  assert.equal(histogram.min, 1);
  assert.equal(histogram.max, 5);
  assert.equal(HdrHistogram.of([]).totalCount, 0);
});
