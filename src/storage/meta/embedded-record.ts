/**
 * How the embedded store keeps a key (StoredRecord) and a committed change (StoredEvent) in LMDB, and
 * what a transaction's compare means against a stored record (etcd's semantics).
 */
import type { Compare, KeyValue, WatchEvent } from './metadata-store.ts';

export interface StoredRecord { v: Buffer; c: number; m: number; n: number; l: string | null }
export interface StoredEvent { t: 'put' | 'delete'; k: string; r: StoredRecord }

export function toKeyValue(key: string, r: StoredRecord): KeyValue {
  return { key, value: r.v, createRevision: r.c, modRevision: r.m, version: r.n, lease: r.l };
}

export function toWatchEvents(stored: readonly StoredEvent[], revision: number): WatchEvent[] {
  return stored.map((e): WatchEvent => ({ type: e.t, key: e.k, kv: toKeyValue(e.k, e.r), revision }));
}

/** Whether `compare` holds for the key's record (undefined: the key does not exist). */
export function matchesCompare(record: StoredRecord | undefined, compare: Compare): boolean {
  switch (compare.target) {
    case 'value': {
      // etcd: a value compare against a missing key always fails, whatever the operator.
      if (record === undefined || !Buffer.isBuffer(compare.value)) return false;
      return compareNumbers(Buffer.compare(record.v, compare.value), compare.op, 0);
    }
    case 'lease': {
      const expected = compare.value === '' || compare.value === null ? null : String(compare.value);
      const actual = record?.l ?? null;
      if (compare.op === '==') return actual === expected;
      if (compare.op === '!=') return actual !== expected;
      return compareNumbers(Number(actual ?? 0), compare.op, Number(expected ?? 0));
    }
    default: {
      const actual = record === undefined ? 0 : compare.target === 'version' ? record.n : compare.target === 'createRevision' ? record.c : record.m;
      return compareNumbers(actual, compare.op, Number(compare.value));
    }
  }
}

function compareNumbers(actual: number, op: Compare['op'], expected: number): boolean {
  switch (op) {
    case '==': return actual === expected;
    case '!=': return actual !== expected;
    case '<': return actual < expected;
    case '>': return actual > expected;
  }
}
