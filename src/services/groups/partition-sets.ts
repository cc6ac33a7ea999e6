/**
 * Sets of partitions as KIP-848 speaks of them: topic id → sorted partition numbers. Small pure helpers
 * for the reconciliation (what a member keeps, must revoke, may take).
 */

/** topic id → sorted partitions. */
export type Partitions = Map<string, number[]>;

export function fromList(list: readonly { topicId: string; partitions: readonly number[] }[]): Partitions {
  const out: Partitions = new Map();
  for (const t of list) if (t.partitions.length > 0) out.set(t.topicId, [...new Set([...(out.get(t.topicId) ?? []), ...t.partitions])].sort((a, b) => a - b));
  return out;
}

export function toList(partitions: Partitions): { topicId: string; partitions: number[] }[] {
  return [...partitions].filter(([, ps]) => ps.length > 0).sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([topicId, ps]) => ({ topicId, partitions: [...ps] }));
}

export function intersect(a: Partitions, b: Partitions): Partitions {
  const out: Partitions = new Map();
  for (const [t, ps] of a) {
    const kept = ps.filter((p) => b.get(t)?.includes(p) === true);
    if (kept.length > 0) out.set(t, kept);
  }
  return out;
}

export function subtract(a: Partitions, b: Partitions): Partitions {
  const out: Partitions = new Map();
  for (const [t, ps] of a) {
    const left = ps.filter((p) => b.get(t)?.includes(p) !== true);
    if (left.length > 0) out.set(t, left);
  }
  return out;
}

export function overlaps(a: Partitions, b: Partitions): boolean {
  for (const [t, ps] of a) if (ps.some((p) => b.get(t)?.includes(p) === true)) return true;
  return false;
}

export function isSubset(a: Partitions, b: Partitions): boolean {
  return size(subtract(a, b)) === 0;
}

export function sameAssignment(a: Partitions, b: Partitions): boolean {
  return isSubset(a, b) && isSubset(b, a);
}

export function size(a: Partitions): number {
  let n = 0;
  for (const ps of a.values()) n += ps.length;
  return n;
}
