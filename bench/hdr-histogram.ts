/**
 * An HDR histogram (Gil Tene's HdrHistogram layout) for integer values, here microseconds: constant
 * relative precision of 3 significant digits at every magnitude, fixed memory, O(1) record. Values are
 * JS numbers below 2^53 (an hour is 3.6e9 µs).
 *
 * Layout: 2048 sub-buckets per power-of-two bucket, the lower half of each bucket after the first being
 * covered by the previous one; so a value lands at index (bucket + 1) * 1024 + (value >> bucket) - 1024.
 */
const SUB_BUCKET_COUNT = 2048; // 2^ceil(log2(2 * 10^3)): 3 significant digits
const SUB_BUCKET_HALF = SUB_BUCKET_COUNT / 2;
const SUB_BUCKET_BITS = 11;

function bitLength(value: number): number {
  const high = Math.floor(value / 2 ** 32);
  return high > 0 ? 64 - Math.clz32(high) : 32 - Math.clz32(value >>> 0);
}

export class HdrHistogram {
  #counts = new Float64Array(SUB_BUCKET_COUNT * 4);
  #total = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = 0;

  /** A histogram of every value in `values`. */
  static of(values: Iterable<number>): HdrHistogram {
    const histogram = new HdrHistogram();
    for (const value of values) histogram.record(value);
    return histogram;
  }

  get totalCount(): number {
    return this.#total;
  }

  get min(): number {
    return this.#total === 0 ? 0 : this.#min;
  }

  get max(): number {
    return this.#max;
  }

  record(value: number): void {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`HdrHistogram records non-negative finite values, got ${value}`);
    const v = Math.round(value);
    const index = HdrHistogram.#indexOf(v);
    if (index >= this.#counts.length) {
      const grown = new Float64Array(Math.max(index + 1, this.#counts.length * 2));
      grown.set(this.#counts);
      this.#counts = grown;
    }
    this.#counts[index] = (this.#counts[index] ?? 0) + 1;
    this.#total++;
    if (v < this.#min) this.#min = v;
    if (v > this.#max) this.#max = v;
  }

  /** The value at `percentile` (0–100): the highest value equivalent to the sample at that rank. */
  valueAtPercentile(percentile: number): number {
    if (this.#total === 0) return 0;
    const rank = Math.max(1, Math.ceil((Math.min(percentile, 100) / 100) * this.#total));
    let seen = 0;
    for (let index = 0; index < this.#counts.length; index++) {
      seen += this.#counts[index] ?? 0;
      if (seen >= rank) return Math.min(HdrHistogram.#highestEquivalent(index), this.#max);
    }
    return this.#max;
  }

  static #indexOf(value: number): number {
    const bucket = Math.max(0, bitLength(value) - SUB_BUCKET_BITS);
    const subBucket = Math.floor(value / 2 ** bucket);
    return (bucket + 1) * SUB_BUCKET_HALF + subBucket - SUB_BUCKET_HALF;
  }

  static #highestEquivalent(index: number): number {
    const bucket = Math.max(0, Math.floor(index / SUB_BUCKET_HALF) - 1);
    const subBucket = index - (bucket + 1) * SUB_BUCKET_HALF + SUB_BUCKET_HALF;
    return subBucket * 2 ** bucket + 2 ** bucket - 1;
  }
}
