/**
 * A set of string keys that remembers at most `maxKeys`, forgetting the oldest first: for "do this once
 * per key" where the keys come from clients (client ids) and must not grow memory without bound.
 */
export class BoundedKeySet {
  readonly #maxKeys: number;
  readonly #keys = new Set<string>();

  constructor(maxKeys: number) {
    if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError(`maxKeys must be a positive integer (got ${maxKeys})`);
    this.#maxKeys = maxKeys;
  }

  /** Adds the key; true when it was not there (the first time, or again after it was forgotten). */
  add(key: string): boolean {
    if (this.#keys.has(key)) return false;
    if (this.#keys.size >= this.#maxKeys) {
      const oldest = this.#keys.values().next().value;
      if (oldest !== undefined) this.#keys.delete(oldest);
    }
    this.#keys.add(key);
    return true;
  }

  get size(): number {
    return this.#keys.size;
  }
}
