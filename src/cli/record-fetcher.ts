/**
 * Reads records of some partitions of one topic from their positions on: one Fetch per leader per
 * poll, records decoded from the returned batches, positions advanced past what was returned.
 * Fetch v13+ names topics by id, older versions by name; requests carry both and the codec writes
 * the one the version has.
 */
import { ApiKey } from '../protocol/api-keys.ts';
import { ErrorCode, errorInfo } from '../protocol/error-codes.ts';
import { baseOffset, decodeRecordBatch, isControlBatch, lastOffsetDelta, splitBatches } from '../protocol/records/index.ts';
import { kafkaError } from './cli-error.ts';
import type { KafkaClient, MetadataTopic } from './kafka-client.ts';

export interface FetchedRecord {
  readonly partition: number;
  readonly offset: bigint;
  readonly timestamp: bigint;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly { readonly key: string; readonly value: Buffer | null }[];
}

export interface RecordFetcherOptions {
  readonly maxWaitMs: number;
  readonly maxBytes: number;
  readonly partitionMaxBytes: number;
}

const NULL_UUID = '00000000-0000-0000-0000-000000000000';
/** Retriable partition errors (leader moved, still loading) refresh metadata at most this often in a row. */
const MAX_REFRESHES = 10;

export class RecordFetcher {
  readonly #client: KafkaClient;
  #topic: MetadataTopic;
  readonly #positions: Map<number, bigint>;
  readonly #options: RecordFetcherOptions;
  #refreshesInARow = 0;

  constructor(client: KafkaClient, topic: MetadataTopic, positions: ReadonlyMap<number, bigint>, options: RecordFetcherOptions) {
    this.#client = client;
    this.#topic = topic;
    this.#positions = new Map(positions);
    this.#options = options;
  }

  /** Next offset to read per partition. */
  positions(): ReadonlyMap<number, bigint> {
    return this.#positions;
  }

  /** One round of Fetch requests; resolves with the records returned (possibly none after maxWaitMs). */
  async poll(): Promise<FetchedRecord[]> {
    const byLeader = new Map<number, number[]>();
    for (const partition of this.#positions.keys()) {
      const leader = this.#topic.partitions.find((p) => p.partitionIndex === partition)?.leaderId ?? -1;
      byLeader.set(leader, [...(byLeader.get(leader) ?? []), partition]);
    }
    const rounds = await Promise.all([...byLeader.values()].map((partitions) => this.#fetchFrom(partitions)));
    const stale = rounds.some((r) => r.stale);
    if (stale) {
      if (++this.#refreshesInARow > MAX_REFRESHES) {
        throw kafkaError(`topic '${this.#topic.name ?? ''}'`, ErrorCode.LEADER_NOT_AVAILABLE);
      }
      this.#topic = await this.#client.topic(this.#topic.name ?? '');
    } else {
      this.#refreshesInARow = 0;
    }
    return rounds.flatMap((r) => r.records);
  }

  async #fetchFrom(partitions: number[]): Promise<{ records: FetchedRecord[]; stale: boolean }> {
    const topic = this.#topic;
    const name = topic.name ?? '';
    const connection = await this.#client.leader(topic, partitions[0]!);
    const { body } = await connection.request(ApiKey.Fetch, {
      replicaId: -1,
      maxWaitMs: this.#options.maxWaitMs,
      minBytes: 1,
      maxBytes: this.#options.maxBytes,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{
        topic: name,
        topicId: topic.topicId,
        partitions: partitions.map((partition) => ({
          partition,
          currentLeaderEpoch: -1,
          fetchOffset: this.#positions.get(partition)!,
          lastFetchedEpoch: -1,
          logStartOffset: -1n,
          partitionMaxBytes: this.#options.partitionMaxBytes,
          replicaDirectoryId: NULL_UUID,
        })),
      }],
      forgottenTopicsData: [],
      rackId: '',
    }, this.#options.maxWaitMs + 30_000);
    if (body.errorCode !== ErrorCode.NONE) throw kafkaError(`fetch from ${connection.address}`, body.errorCode);
    const records: FetchedRecord[] = [];
    let stale = false;
    for (const t of body.responses) {
      if (t.topic !== name && t.topicId !== topic.topicId) continue;
      for (const p of t.partitions) {
        if (p.errorCode !== ErrorCode.NONE) {
          if (errorInfo(p.errorCode).retriable) {
            stale = true;
            continue;
          }
          throw kafkaError(`topic '${name}' partition ${p.partitionIndex}`, p.errorCode);
        }
        records.push(...this.#decode(p.partitionIndex, p.records));
      }
    }
    return { records, stale };
  }

  #decode(partition: number, bytes: Buffer | null): FetchedRecord[] {
    if (bytes === null || bytes.length === 0) return [];
    const from = this.#positions.get(partition)!;
    const out: FetchedRecord[] = [];
    let next = from;
    // A trailing partial batch is normal (the broker cut at MaxBytes); the next poll reads it whole.
    for (const batch of splitBatches(bytes).batches) {
      const lastOffset = baseOffset(batch) + BigInt(lastOffsetDelta(batch));
      if (lastOffset >= next) next = lastOffset + 1n;
      // Control batches (transaction markers) hold no user records.
      if (isControlBatch(batch)) continue;
      for (const record of decodeRecordBatch(batch).records) {
        // A batch may start before the offset asked for; those records were read already.
        if (record.offset < from) continue;
        out.push({ partition, offset: record.offset, timestamp: record.timestamp, key: record.key, value: record.value, headers: record.headers });
      }
    }
    this.#positions.set(partition, next);
    return out;
  }
}
