/**
 * A Fetch whose partitions have several owners, answered without waiting for the slowest owner and
 * without throwing data away (docs/design/proxy.md): sub-fetches per owner, their answers kept per client
 * connection (fetch-read-ahead.ts) and used by this Fetch or the client's next one.
 */
import { ErrorCode } from '../protocol/error-codes.ts';
import { nextOffset, splitBatches } from '../protocol/records/index.ts';
import type { ClientRequest } from './broker-link.ts';
import type { ClusterView } from './cluster-view.ts';
import { FetchReadAhead } from './fetch-read-ahead.ts';
import { MOVED, type OwnerForwarder } from './owner-forwarder.ts';
import { FETCH_SHAPE, partitionKey, partitionsWithErrors, topicKeyOf } from './partition-split.ts';
import type { PartitionedForwarderOptions } from './partitioned-forwarder.ts';

type Struct = Record<string, unknown>;

/**
 * How long a multi-owner Fetch that has data waits for the other owners of the same round: long enough
 * for owners answering at the same time to share one answer, short enough that a slow owner costs the
 * client little (its answer is kept for the next Fetch).
 */
const PROMPT_OWNER_GRACE_MS = 10;

interface WantedPartition {
  readonly key: string;
  readonly fetchOffset: bigint;
  readonly owner: string;
  /** The client's topic entry and partition entry (sub-requests reuse them). */
  readonly topic: Struct;
  readonly partition: Struct;
  readonly index: number;
}

/** The offset after the last whole batch of a Fetch answer's records; null without a whole batch. */
function offsetAfter(records: unknown): bigint | null {
  if (!(records instanceof Buffer) || records.length === 0) return null;
  const { batches } = splitBatches(records);
  const last = batches.at(-1);
  return last === undefined ? null : nextOffset(last);
}

/** A kept Fetch answer worth answering the client at once: records, or an error it must see. */
function isUseful(answer: Struct | null): boolean {
  if (answer === null) return false;
  const records = answer['records'];
  return (records instanceof Buffer && records.length > 0) || answer['errorCode'] !== ErrorCode.NONE;
}

export class MultiOwnerFetch {
  readonly #view: ClusterView;
  readonly #owners: OwnerForwarder;
  readonly #options: PartitionedForwarderOptions;

  constructor(view: ClusterView, owners: OwnerForwarder, options: PartitionedForwarderOptions) {
    this.#view = view;
    this.#owners = owners;
    this.#options = options;
  }

  /**
   * Fetch over several owners, without waiting for the slowest one and without throwing data away:
   * 1. answers kept from earlier sub-fetches of this connection (fetch-read-ahead.ts) are used;
   * 2. every other partition not already being fetched is asked of its owner without waiting
   *    (MaxWaitMs 0); the proxy answers as soon as one partition has records (or an error) — answers
   *    arriving after that are kept for the client's next Fetch of the same offsets;
   * 3. if nothing has data, the idle owners are long-polled with the time left, and the first owner
   *    with data ends the wait. Partitions still waiting are answered without records, with their
   *    last high watermark.
   * The client's MaxBytes is shared between the owners, so the answer stays within its budget.
   */
  async fetch(req: ClientRequest, request: Struct, groups: Map<string, Struct>, startedAt: number): Promise<Struct> {
    const readAhead = req.readAhead ?? new FetchReadAhead();
    const names = FETCH_SHAPE.request;
    const maxWaitMs = (request['maxWaitMs'] as number | undefined) ?? 0;
    const maxBytes = (request['maxBytes'] as number | undefined) ?? 0x7fffffff;
    const share = Math.max(1, Math.floor(maxBytes / groups.size));
    const deadline = startedAt + Math.max(0, maxWaitMs);
    const wanted: WantedPartition[] = [];
    for (const [owner, sub] of groups) {
      for (const topic of sub[names.topics] as Struct[]) {
        const topicKey = topicKeyOf(names, topic);
        for (const partition of topic[names.partitions] as Struct[]) {
          const index = partition[names.index] as number;
          wanted.push({ key: partitionKey(topicKey, index), fetchOffset: partition['fetchOffset'] as bigint, owner, topic, partition, index });
        }
      }
    }
    const useful = (w: WantedPartition): boolean => isUseful(readAhead.peek(w.key, w.fetchOffset));
    const pending = (w: WantedPartition): boolean => readAhead.inFlight(w.key, w.fetchOffset);
    // Until a partition has data; answers of this round's immediate sub-fetches are always awaited
    // when nothing else has data (even with MaxWaitMs 0 they are the answer), and for a short grace
    // when something has (so one answer carries every prompt owner's data: fewer client round trips),
    // long polls only until the client's deadline.
    const waitForData = async (mustSettle: readonly WantedPartition[]): Promise<void> => {
      const capAt = Date.now() + this.#options.requestTimeoutMs;
      let dataSince = -1;
      for (;;) {
        const now = Date.now();
        if (wanted.some(useful)) {
          if (!wanted.some((w) => readAhead.inFlightPrompt(w.key, w.fetchOffset))) return;
          if (dataSince < 0) dataSince = now;
          if (now - dataSince >= PROMPT_OWNER_GRACE_MS) return;
          await readAhead.wait(PROMPT_OWNER_GRACE_MS - (now - dataSince));
        } else if (mustSettle.some(pending) && now < capAt) await readAhead.wait(capAt - now);
        else if (wanted.some(pending) && now < deadline) await readAhead.wait(deadline - now);
        else return;
      }
    };

    const immediate = wanted.filter((w) => !useful(w) && !pending(w));
    this.#sendSubFetches(req, request, immediate, 0, share, readAhead);
    await waitForData(immediate);
    if (!wanted.some(useful) && Date.now() < deadline) {
      this.#sendSubFetches(req, request, wanted.filter((w) => !pending(w)), deadline - Date.now(), share, readAhead);
      await waitForData([]);
    }

    const byTopic = new Map<Struct, Struct[]>();
    const ahead: WantedPartition[] = [];
    for (const w of wanted) {
      const answer = readAhead.take(w.key, w.fetchOffset) ?? { ...FETCH_SHAPE.errorPartition(w.index, ErrorCode.NONE), ...readAhead.offsets(w.key) };
      const list = byTopic.get(w.topic);
      if (list === undefined) byTopic.set(w.topic, [answer]);
      else list.push(answer);
      const next = answer['errorCode'] === ErrorCode.NONE ? offsetAfter(answer['records']) : null;
      if (next !== null && !readAhead.inFlight(w.key, next)) ahead.push({ ...w, fetchOffset: next, partition: { ...w.partition, fetchOffset: next } });
    }
    // Read ahead: the client will ask for these offsets next; their answers are then on their way (or
    // kept) while it processes this one. Bounded by the proxy's read-ahead budget.
    if (ahead.length > 0 && readAhead.canFetchAhead) this.#sendSubFetches(req, request, ahead, 0, share, readAhead);
    const responses = [...byTopic].map(([topic, partitions]) => ({ topic: topic[names.topicName], topicId: topic[names.topicId ?? 'topicId'], partitions }));
    return { throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses, nodeEndpoints: [] };
  }

  /**
   * One sub-fetch per owner for `partitions` (marked in flight); each answer is kept in `readAhead` when
   * it arrives. A lost connection or a moved partition refreshes the metadata; the client's next Fetch
   * goes to the new owner (Fetch is repeatable, nothing is lost).
   */
  #sendSubFetches(req: ClientRequest, request: Struct, partitions: readonly WantedPartition[], waitMs: number, share: number, readAhead: FetchReadAhead): void {
    const names = FETCH_SHAPE.request;
    const byOwner = new Map<string, Map<Struct, WantedPartition[]>>();
    for (const w of partitions) {
      let topics = byOwner.get(w.owner);
      if (topics === undefined) byOwner.set(w.owner, (topics = new Map()));
      const list = topics.get(w.topic);
      if (list === undefined) topics.set(w.topic, [w]);
      else list.push(w);
    }
    const timeoutMs = this.#options.requestTimeoutMs + waitMs;
    for (const [owner, topics] of byOwner) {
      const offsets = new Map<string, bigint>();
      const subTopics: Struct[] = [];
      for (const [topic, list] of topics) {
        subTopics.push({ ...topic, [names.partitions]: list.map((w) => w.partition) });
        for (const w of list) {
          offsets.set(w.key, w.fetchOffset);
          readAhead.markInFlight(w.key, w.fetchOffset, waitMs > 0);
        }
      }
      const sub = { ...request, maxWaitMs: Math.max(0, Math.round(waitMs)), maxBytes: share, [names.topics]: subTopics };
      const settle = (response: Struct | null): void => {
        const moved = response !== null && partitionsWithErrors(FETCH_SHAPE, response, MOVED).size > 0;
        if (response === null || moved) {
          this.#options.onRetry(response === null ? 'connection' : 'moved');
          void this.#view.refresh(Date.now()).catch(() => {});
        }
        for (const topic of (response?.['responses'] as Struct[] | undefined) ?? []) {
          const topicKey = topicKeyOf(FETCH_SHAPE.response, topic);
          for (const partition of (topic['partitions'] as Struct[] | undefined) ?? []) {
            const key = partitionKey(topicKey, partition['partitionIndex'] as number);
            const offset = offsets.get(key);
            if (offset === undefined) continue;
            offsets.delete(key);
            readAhead.settle(key, offset, partition);
          }
        }
        for (const [key, offset] of offsets) readAhead.settle(key, offset, null);
        readAhead.notify();
      };
      this.#owners.send(FETCH_SHAPE, req, owner, sub, false, timeoutMs, true).then(
        (result) => settle(result.response),
        () => settle(null),
      );
    }
  }
}
