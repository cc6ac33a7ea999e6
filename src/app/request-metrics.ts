import { ApiKey } from '../protocol/api-keys.ts';
import type { FieldSchema } from '../protocol/codec/index.ts';
import { errorInfo } from '../protocol/error-codes.ts';
import { RESPONSE_SCHEMAS } from '../protocol/messages/index.ts';
import { BATCH_HEADER_BYTES, BATCH_LENGTH_OFFSET, LOG_OVERHEAD_BYTES, RECORD_COUNT_OFFSET } from '../protocol/records/index.ts';
import { apiKeyLabel, type KafscaleMetrics } from '../telemetry/metrics.ts';

/** Topic names that exist now: per-topic series are only made for these (the label set stays bounded). */
export interface TopicNames {
  exists(name: string): boolean;
  nameOf(topicId: string): string | undefined;
}

/** Deep enough for every response schema (e.g. OffsetFetch v8: groups → topics → partitions). */
const MAX_DEPTH = 6;

/**
 * Where a response carries error codes, from its schema: the `errorCode` fields of a struct and the
 * struct (or struct array) fields under which there are more. Compiled once per API key.
 */
interface ErrorPaths {
  readonly hasCode: boolean;
  readonly nested: readonly { readonly key: string; readonly array: boolean; readonly paths: ErrorPaths }[];
}

function errorPathsOf(fields: readonly FieldSchema[], depth: number): ErrorPaths | null {
  const hasCode = fields.some((field) => field.key === 'errorCode');
  const nested: { key: string; array: boolean; paths: ErrorPaths }[] = [];
  if (depth < MAX_DEPTH) {
    for (const field of fields) {
      if (field.fields === undefined) continue;
      const paths = errorPathsOf(field.fields, depth + 1);
      if (paths !== null) nested.push({ key: field.key, array: field.type.startsWith('[]'), paths });
    }
  }
  return hasCode || nested.length > 0 ? { hasCode, nested } : null;
}

const errorPathsByKey = new Map<number, ErrorPaths | null>();

function errorPathsFor(apiKey: number): ErrorPaths | null {
  let paths = errorPathsByKey.get(apiKey);
  if (paths === undefined) {
    const schema = (RESPONSE_SCHEMAS as Readonly<Record<number, { readonly fields: readonly FieldSchema[] } | undefined>>)[apiKey];
    paths = schema === undefined ? null : errorPathsOf(schema.fields, 0);
    errorPathsByKey.set(apiKey, paths);
  }
  return paths;
}

/**
 * Per-request metrics taken from the decoded request and the response object after the handler ran
 * (the Dispatcher's observer): `kafscale_request_errors_total` by the Kafka error codes the response
 * carries, and bytes/records in (acknowledged Produce) and out (Fetch) per topic.
 *
 * Cost: one walk along the response schema's paths to its error codes (compiled once per API key;
 * only the structs that can hold a code are visited, records never) and, for Produce and Fetch, one
 * look at each batch header — never at records. Label work (prom-client's label hashing) happens only for non-zero error codes and
 * once per topic in a Produce/Fetch.
 */
export class RequestMetrics {
  readonly #metrics: KafscaleMetrics;
  readonly #topics: TopicNames;

  constructor(metrics: KafscaleMetrics, topics: TopicNames) {
    this.#metrics = metrics;
    this.#topics = topics;
  }

  observe(apiKey: number, failed: boolean, request: unknown, response: unknown): void {
    const apiKeyText = apiKeyLabel(apiKey);
    if (failed) this.#metrics.requestErrorsTotal.inc({ api_key: apiKeyText, error: 'exception' });
    if (response === null || typeof response !== 'object') return;
    const paths = errorPathsFor(apiKey);
    if (paths !== null) this.#countErrors(apiKeyText, response, paths);
    if (apiKey === ApiKey.Produce) this.#produced(request, response);
    else if (apiKey === ApiKey.Fetch) this.#fetched(response);
  }

  #countErrors(apiKeyText: string, node: object, paths: ErrorPaths): void {
    const struct = node as Readonly<Record<string, unknown>>;
    if (paths.hasCode) {
      const code = struct['errorCode'];
      if (typeof code === 'number' && code !== 0) this.#metrics.requestErrorsTotal.inc({ api_key: apiKeyText, error: errorInfo(code).name });
    }
    for (const next of paths.nested) {
      const value = struct[next.key];
      if (value === null || typeof value !== 'object') continue;
      if (!next.array) {
        this.#countErrors(apiKeyText, value, next.paths);
        continue;
      }
      if (!Array.isArray(value)) continue;
      for (const item of value) if (item !== null && typeof item === 'object') this.#countErrors(apiKeyText, item as object, next.paths);
    }
  }

  /** Acknowledged batches only: partitions whose response says NONE. */
  #produced(request: unknown, response: unknown): void {
    const req = request as { topicData?: readonly { name: string; partitionData: readonly { index: number; records: Buffer | null }[] }[] };
    const res = response as { responses?: readonly { name: string; partitionResponses: readonly { index: number; errorCode: number }[] }[] };
    if (req.topicData === undefined || res.responses === undefined) return;
    req.topicData.forEach((topic, t) => {
      const answered = res.responses?.[t];
      if (answered === undefined || answered.name !== topic.name || !this.#topics.exists(topic.name)) return;
      let bytes = 0;
      let records = 0;
      topic.partitionData.forEach((partition, p) => {
        const result = answered.partitionResponses[p];
        if (result === undefined || result.index !== partition.index || result.errorCode !== 0 || partition.records === null) return;
        bytes += partition.records.length;
        records += recordCount(partition.records);
      });
      if (bytes > 0) {
        this.#metrics.topicBytesInTotal.inc({ topic: topic.name }, bytes);
        this.#metrics.topicRecordsInTotal.inc({ topic: topic.name }, records);
      }
    });
  }

  #fetched(response: unknown): void {
    const res = response as { responses?: readonly { topic: string; topicId: string; partitions: readonly { records: readonly Buffer[] | Buffer | null }[] }[] };
    if (res.responses === undefined) return;
    for (const topic of res.responses) {
      const name = topic.topic !== '' ? topic.topic : this.#topics.nameOf(topic.topicId);
      if (name === undefined || !this.#topics.exists(name)) continue;
      let bytes = 0;
      let records = 0;
      for (const partition of topic.partitions) {
        const chunks = partition.records;
        if (chunks === null) continue;
        if (Buffer.isBuffer(chunks)) {
          bytes += chunks.length;
          records += recordCount(chunks);
        } else {
          for (const chunk of chunks) {
            bytes += chunk.length;
            records += recordCount(chunk);
          }
        }
      }
      if (bytes > 0) {
        this.#metrics.topicBytesOutTotal.inc({ topic: name }, bytes);
        this.#metrics.topicRecordsOutTotal.inc({ topic: name }, records);
      }
    }
  }
}

/** Records in the whole batches of a buffer, from each batch header's record count (magic 2 layout). */
export function recordCount(data: Buffer): number {
  let count = 0;
  let position = 0;
  while (position + BATCH_HEADER_BYTES <= data.length) {
    const batchBytes = LOG_OVERHEAD_BYTES + data.readInt32BE(position + BATCH_LENGTH_OFFSET);
    if (batchBytes < BATCH_HEADER_BYTES || position + batchBytes > data.length) break;
    count += data.readInt32BE(position + RECORD_COUNT_OFFSET);
    position += batchBytes;
  }
  return count;
}
