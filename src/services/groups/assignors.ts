/**
 * KIP-848 server-side assignors: `uniform` (Kafka's default, balanced and sticky) and `range`
 * (contiguous ranges per topic, co-partitioned across topics). Pure functions of the group's members,
 * their subscriptions and the subscribed topics' partition counts; the coordinator runs them whenever
 * the group epoch moves past the target assignment's epoch.
 */

/** A topic as an assignor sees it. */
export interface AssignableTopic {
  readonly name: string;
  readonly id: string;
  readonly partitions: number;
}

export interface AssignorMember {
  readonly memberId: string;
  /** Topic names the member subscribes to (only those that exist are assigned). */
  readonly topics: readonly string[];
}

/** memberId → topic id → sorted partitions. */
export type TargetAssignment = Map<string, Map<string, number[]>>;

export interface Assignor {
  readonly name: string;
  assign(members: readonly AssignorMember[], topics: ReadonlyMap<string, AssignableTopic>, previous: TargetAssignment): TargetAssignment;
}

const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function emptyTarget(members: readonly AssignorMember[]): TargetAssignment {
  return new Map(members.map((m) => [m.memberId, new Map<string, number[]>()]));
}

function add(target: TargetAssignment, memberId: string, topicId: string, partition: number): void {
  const topics = target.get(memberId) as Map<string, number[]>;
  const partitions = topics.get(topicId);
  if (partitions === undefined) topics.set(topicId, [partition]);
  else partitions.push(partition);
}

function sortTarget(target: TargetAssignment): TargetAssignment {
  for (const topics of target.values()) for (const partitions of topics.values()) partitions.sort((a, b) => a - b);
  return target;
}

/**
 * Range: for each topic, its subscribers sorted by member id get contiguous ranges, the first
 * `partitions % subscribers` one partition more. Members with the same subscriptions therefore get the
 * same partition numbers of every topic (co-partitioning), as Kafka's server-side RangeAssignor.
 */
export const rangeAssignor: Assignor = {
  name: 'range',
  assign(members, topics) {
    const target = emptyTarget(members);
    for (const topic of [...topics.values()].sort((a, b) => byId(a.name, b.name))) {
      const subscribers = members.filter((m) => m.topics.includes(topic.name)).map((m) => m.memberId).sort(byId);
      if (subscribers.length === 0) continue;
      const base = Math.floor(topic.partitions / subscribers.length);
      const extra = topic.partitions % subscribers.length;
      let next = 0;
      subscribers.forEach((memberId, i) => {
        const count = base + (i < extra ? 1 : 0);
        for (let p = next; p < next + count; p++) add(target, memberId, topic.id, p);
        next += count;
      });
    }
    return sortTarget(target);
  },
};

/**
 * Uniform: balanced (member partition counts differ by at most one among members that could take a
 * partition) and sticky (a partition stays with its previous owner when balance allows). Partitions
 * keep their previous owner if it still subscribes; the rest go to the least-loaded subscriber; then
 * partitions move from the most- to the least-loaded subscriber until no move improves balance.
 */
export const uniformAssignor: Assignor = {
  name: 'uniform',
  assign(members, topics, previous) {
    const subscribed = new Map(members.map((m) => [m.memberId, new Set(m.topics)]));
    const owner = new Map<string, string>();
    const count = new Map(members.map((m) => [m.memberId, 0]));
    const idToTopic = new Map([...topics.values()].map((t) => [t.id, t]));
    const key = (topicId: string, p: number) => `${topicId}:${p}`;
    const all: { topic: AssignableTopic; partition: number }[] = [];
    for (const topic of [...topics.values()].sort((a, b) => byId(a.name, b.name))) for (let p = 0; p < topic.partitions; p++) all.push({ topic, partition: p });
    // Stickiness: keep previous owners that still subscribe.
    for (const [memberId, owned] of previous) {
      if (!subscribed.has(memberId)) continue;
      for (const [topicId, partitions] of owned) {
        const topic = idToTopic.get(topicId);
        if (topic === undefined || !subscribed.get(memberId)?.has(topic.name)) continue;
        for (const p of partitions) {
          if (p >= topic.partitions || owner.has(key(topicId, p))) continue;
          owner.set(key(topicId, p), memberId);
          count.set(memberId, (count.get(memberId) ?? 0) + 1);
        }
      }
    }
    const subscribersOf = (topic: AssignableTopic) => members.filter((m) => subscribed.get(m.memberId)?.has(topic.name)).map((m) => m.memberId).sort(byId);
    const leastLoaded = (candidates: readonly string[]) => candidates.reduce((best, m) => ((count.get(m) ?? 0) < (count.get(best) ?? 0) ? m : best));
    for (const { topic, partition } of all) {
      if (owner.has(key(topic.id, partition))) continue;
      const candidates = subscribersOf(topic);
      if (candidates.length === 0) continue;
      const chosen = leastLoaded(candidates);
      owner.set(key(topic.id, partition), chosen);
      count.set(chosen, (count.get(chosen) ?? 0) + 1);
    }
    // Balance: move a partition from an owner to a subscriber with at least two fewer, until none can move.
    for (let moved = true, rounds = 0; moved && rounds < all.length + 1; rounds++) {
      moved = false;
      for (const { topic, partition } of [...all].reverse()) {
        const current = owner.get(key(topic.id, partition));
        if (current === undefined) continue;
        const candidates = subscribersOf(topic);
        const target = leastLoaded(candidates);
        if ((count.get(current) ?? 0) - (count.get(target) ?? 0) >= 2) {
          owner.set(key(topic.id, partition), target);
          count.set(current, (count.get(current) ?? 0) - 1);
          count.set(target, (count.get(target) ?? 0) + 1);
          moved = true;
        }
      }
    }
    const target = emptyTarget(members);
    for (const { topic, partition } of all) {
      const memberId = owner.get(key(topic.id, partition));
      if (memberId !== undefined) add(target, memberId, topic.id, partition);
    }
    return sortTarget(target);
  },
};

export const ASSIGNORS: ReadonlyMap<string, Assignor> = new Map([
  [uniformAssignor.name, uniformAssignor],
  [rangeAssignor.name, rangeAssignor],
]);

/** Kafka's group.consumer.assignors default: the first one is used when members name none. */
export const DEFAULT_ASSIGNOR = uniformAssignor.name;
