/**
 * Incremental fetch sessions (KIP-227), as Kafka's FetchSession / FetchSessionCache keep them: a
 * session remembers the partitions a consumer fetches and, per partition, its fetch state (offset, max
 * bytes, leader epoch) and what the broker last told it (high watermark, log start offset). A client
 * then sends only partitions whose fetch state changed, and the broker answers only partitions with
 * something to say (docs/design/fetch-sessions.md).
 *
 * The cache is bounded by `max.incremental.fetch.session.cache.slots` and evicts by Kafka's rules: a
 * session unused for the eviction time goes first (least recently used); otherwise a session older
 * than the eviction time may give its slot to a new session with more partitions (fewest partitions
 * evicted first). Sessions belong to the broker, not to a connection: a client that reconnects keeps
 * its session, as in Kafka.
 */

/** Session id of a sessionless fetch and of a response that created no session. */
export const INVALID_SESSION_ID = 0;
/** A full fetch that asks for a new session. */
export const INITIAL_EPOCH = 0;
/** A full fetch that wants no session (and closes the one it names). */
export const FINAL_EPOCH = -1;
/** Kafka's MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS: a session is safe from eviction this long. */
export const MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS = 120_000;

/**
 * Partitions all sessions of a broker may cache together (measured ~175 bytes each with a topic-id key: ~45 MB). Kafka bounds
 * only the number of sessions; this bounds memory too, because a client may ask for a new session on
 * every fetch (epoch 0) and never use it, filling every slot with its whole partition list.
 */
export const MAX_CACHED_PARTITIONS = 250_000;

/** The epoch that follows `epoch` (Kafka's FetchMetadata.nextEpoch): 1 after Int32 max, never 0. */
export function nextEpoch(epoch: number): number {
  if (epoch < 0) return FINAL_EPOCH;
  if (epoch === 0x7fffffff) return 1;
  return epoch + 1;
}

/** The key of one partition in a session: the topic's id (Fetch v13+) or name (older) and the index. */
export function partitionKey(topicKey: string, partition: number): string {
  return `${topicKey}\u0000${partition}`;
}

/** What a request says about one partition. */
export interface PartitionFetchState {
  readonly topicKey: string;
  readonly partition: number;
  readonly fetchOffset: number;
  readonly partitionMaxBytes: number;
  readonly currentLeaderEpoch: number;
}

/** What a response said about one partition. */
export interface PartitionAnswer {
  readonly errorCode: number;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  readonly recordBytes: number;
}

export class CachedPartition {
  readonly topicKey: string;
  readonly partition: number;
  fetchOffset: number;
  partitionMaxBytes: number;
  currentLeaderEpoch: number;
  /** Last high watermark sent to the client; -1 when none (a new partition, or after an error). */
  highWatermark: number;
  /** Last log start offset sent to the client; -1 when none. */
  logStartOffset: number;

  constructor(state: PartitionFetchState) {
    this.topicKey = state.topicKey;
    this.partition = state.partition;
    this.fetchOffset = state.fetchOffset;
    this.partitionMaxBytes = state.partitionMaxBytes;
    this.currentLeaderEpoch = state.currentLeaderEpoch;
    this.highWatermark = -1;
    this.logStartOffset = -1;
  }

  updateRequest(state: PartitionFetchState): void {
    this.fetchOffset = state.fetchOffset;
    this.partitionMaxBytes = state.partitionMaxBytes;
    this.currentLeaderEpoch = state.currentLeaderEpoch;
  }

  /**
   * Kafka's CachedPartition.maybeUpdateResponseData: whether an incremental response must carry this
   * partition (records, a changed high watermark or log start offset, an error), remembering what is
   * sent. After an error the high watermark is forgotten, so the partition is sent again once the error
   * clears.
   */
  mustRespond(answer: PartitionAnswer): boolean {
    let must = answer.recordBytes > 0;
    if (this.highWatermark !== answer.highWatermark) {
      must = true;
      this.highWatermark = answer.highWatermark;
    }
    if (this.logStartOffset !== answer.logStartOffset) {
      must = true;
      this.logStartOffset = answer.logStartOffset;
    }
    if (answer.errorCode !== 0) {
      must = true;
      this.highWatermark = -1;
    }
    return must;
  }
}

export class FetchSession {
  readonly id: number;
  /** Created by Fetch v13+ (partitions keyed by topic id); requests of the other kind are refused. */
  readonly usesTopicIds: boolean;
  readonly creationMs: number;
  lastUsedMs: number;
  /** The epoch the next incremental request must carry. */
  epoch: number;
  /** In fetch order: partitions that returned records move to the end, so every partition gets its turn at MaxBytes. */
  readonly partitions: Map<string, CachedPartition>;

  constructor(id: number, usesTopicIds: boolean, nowMs: number, partitions: Map<string, CachedPartition>) {
    this.id = id;
    this.usesTopicIds = usesTopicIds;
    this.creationMs = nowMs;
    this.lastUsedMs = nowMs;
    this.epoch = nextEpoch(INITIAL_EPOCH);
    this.partitions = partitions;
  }

  get size(): number {
    return this.partitions.size;
  }

  /** An incremental request: its partitions are added or updated, the forgotten ones removed. */
  update(states: readonly PartitionFetchState[], forgotten: readonly { readonly topicKey: string; readonly partition: number }[]): void {
    for (const state of states) {
      const key = partitionKey(state.topicKey, state.partition);
      const cached = this.partitions.get(key);
      if (cached === undefined) this.partitions.set(key, new CachedPartition(state));
      else cached.updateRequest(state);
    }
    for (const f of forgotten) this.partitions.delete(partitionKey(f.topicKey, f.partition));
  }

  /** Moves a partition that returned records to the end of the fetch order (Kafka does the same). */
  rotate(partition: CachedPartition): void {
    const key = partitionKey(partition.topicKey, partition.partition);
    this.partitions.delete(key);
    this.partitions.set(key, partition);
  }
}

export interface FetchSessionCacheOptions {
  /** `max.incremental.fetch.session.cache.slots`; 0 turns sessions off. */
  readonly maxSlots: number;
  readonly evictionMs?: number;
  readonly nowMs?: () => number;
  /** A random positive Int32 (tests make it predictable). */
  readonly randomId?: () => number;
  /** Partitions cached over all sessions at most (MAX_CACHED_PARTITIONS). */
  readonly maxPartitions?: number;
}

export class FetchSessionCache {
  readonly maxSlots: number;
  readonly evictionMs: number;
  readonly maxPartitions: number;
  #partitionCount = 0;
  readonly #nowMs: () => number;
  readonly #randomId: () => number;
  /** In least-recently-used order: the first entry is the one unused longest. */
  readonly #sessions = new Map<number, FetchSession>();
  /** Sessions evicted to make room, since start. */
  evictions = 0;

  constructor(options: FetchSessionCacheOptions) {
    this.maxSlots = options.maxSlots;
    this.evictionMs = options.evictionMs ?? MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS;
    this.#nowMs = options.nowMs ?? Date.now;
    this.#randomId = options.randomId ?? (() => 1 + Math.floor(Math.random() * 0x7ffffffe));
    this.maxPartitions = options.maxPartitions ?? MAX_CACHED_PARTITIONS;
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** Partitions cached over all sessions. */
  get partitionCount(): number {
    return this.#partitionCount;
  }

  nowMs(): number {
    return this.#nowMs();
  }

  get(id: number): FetchSession | undefined {
    return this.#sessions.get(id);
  }

  remove(id: number): boolean {
    const session = this.#sessions.get(id);
    if (session === undefined) return false;
    this.#sessions.delete(id);
    this.#partitionCount -= session.size;
    return true;
  }

  /**
   * An incremental request changes a session's partitions (FetchSession.update). False when the
   * partitions it adds would take the cache past its partition bound: the session is then closed, and
   * the client, told FETCH_SESSION_ID_NOT_FOUND, starts over with a full fetch.
   */
  update(session: FetchSession, states: readonly PartitionFetchState[], forgotten: readonly { readonly topicKey: string; readonly partition: number }[]): boolean {
    const before = session.size;
    session.update(states, forgotten);
    this.#partitionCount += session.size - before;
    if (this.#partitionCount <= this.maxPartitions) return true;
    this.remove(session.id);
    return false;
  }

  /** A session was used: it becomes the most recently used. */
  touch(session: FetchSession): void {
    session.lastUsedMs = this.#nowMs();
    this.#sessions.delete(session.id);
    this.#sessions.set(session.id, session);
  }

  /**
   * A new session for a full fetch of `partitions`, when a slot is free or can be freed by Kafka's
   * rules; its id, or INVALID_SESSION_ID when the cache keeps no session for it.
   */
  create(usesTopicIds: boolean, partitions: readonly CachedPartition[]): number {
    if (this.maxSlots <= 0 || partitions.length > this.maxPartitions) return INVALID_SESSION_ID;
    const now = this.#nowMs();
    if (this.#sessions.size >= this.maxSlots && !this.#tryEvict(partitions.length, now)) return INVALID_SESSION_ID;
    // The partition bound frees room by the same rules; a new session never pushes the cache past it.
    while (this.#partitionCount + partitions.length > this.maxPartitions) {
      if (!this.#tryEvict(partitions.length, now)) return INVALID_SESSION_ID;
    }
    let id = this.#randomId();
    while (id === INVALID_SESSION_ID || this.#sessions.has(id)) id = this.#randomId();
    const map = new Map<string, CachedPartition>();
    for (const p of partitions) map.set(partitionKey(p.topicKey, p.partition), p);
    this.#sessions.set(id, new FetchSession(id, usesTopicIds, now, map));
    this.#partitionCount += map.size;
    return id;
  }

  /**
   * Kafka's FetchSessionCache.tryEvict: the least recently used session if it has been idle longer
   * than the eviction time; otherwise, among sessions older than the eviction time, the one with the
   * fewest partitions (then the lowest id) — only if the new session has strictly more partitions.
   */
  #tryEvict(size: number, now: number): boolean {
    const lru = this.#sessions.values().next().value;
    if (lru === undefined) return false;
    if (now - lru.lastUsedMs > this.evictionMs) {
      this.#evict(lru);
      return true;
    }
    let candidate: FetchSession | undefined;
    for (const session of this.#sessions.values()) {
      if (now - session.creationMs <= this.evictionMs) continue;
      if (candidate === undefined || session.size < candidate.size || (session.size === candidate.size && session.id < candidate.id)) candidate = session;
    }
    if (candidate === undefined || size <= candidate.size) return false;
    this.#evict(candidate);
    return true;
  }

  #evict(session: FetchSession): void {
    this.remove(session.id);
    this.evictions++;
  }
}
