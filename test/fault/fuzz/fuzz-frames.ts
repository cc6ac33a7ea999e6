/**
 * Frames for the protocol fuzzer, each with what the broker may do with it:
 *  - schema: a random, well-formed request of any API at any version the schemas define (values from
 *    the codec's random-value generator, steered towards the fuzz topic and valid or broken batches);
 *  - mutated: a schema frame with bit flips, extreme length/count values, varint runs, cuts or junk;
 *  - random: random bytes, with or without a plausible header;
 *  - truncated: a frame whose size prefix promises more than is sent, then end of stream;
 *  - oversized: a size prefix beyond socket.request.max.bytes (or negative);
 *  - bad-batch: a Produce to the fuzz topic whose record batch is corrupt in one precise way.
 * Everything is drawn from a seeded PRNG, so a run replays from its seed.
 */
import {
  computeCrc, encodeRecordBatch, writeCrc,
  ATTRIBUTES_OFFSET, BATCH_LENGTH_OFFSET, CRC_OFFSET, LAST_OFFSET_DELTA_OFFSET, MAGIC_OFFSET, RECORD_COUNT_OFFSET, RECORDS_OFFSET,
} from '../../../src/protocol/records/index.ts';
import { decodeRequest, decodeRequestHeader, encodeRequest, type RequestByKey } from '../../../src/protocol/codec/index.ts';
import { compileMessage, parseVersions } from '../../../src/protocol/codec/plan.ts';
import { Random, randomStruct } from '../../helpers/random-value.ts';
import { REQUEST_SCHEMAS } from '../../../src/protocol/messages/index.ts';
import type { MessageSchema } from '../../../src/protocol/codec/message-schema.ts';

export const FRAME_KINDS = ['schema', 'mutated', 'random', 'truncated', 'oversized', 'bad-batch'] as const;
export type FrameKind = (typeof FRAME_KINDS)[number];

export const BAD_BATCH_KINDS = [
  'crc-flip', 'body-flip', 'magic', 'length-long', 'length-short', 'count-more', 'count-fewer', 'count-negative',
  'delta-wrong', 'compression-unknown', 'compression-garbage', 'control', 'truncated-batch', 'trailing-garbage', 'records-garbage',
] as const;
export type BadBatchKind = (typeof BAD_BATCH_KINDS)[number];

export interface FuzzFrame {
  readonly kind: FrameKind;
  /** Size prefix included. */
  readonly bytes: Buffer;
  /** What the header says (NaN when there is no readable header). */
  readonly apiKey: number;
  readonly version: number;
  readonly correlationId: number;
  /** Whether the codec decodes the whole frame (header and body): the broker must then parse it too. */
  readonly wellFormed: boolean;
  /** For Produce frames that decode: acks = 0 gets no response. */
  readonly noResponseExpected: boolean;
  /** End the stream after the bytes (truncated frames). */
  readonly endAfter: boolean;
  readonly badBatch: BadBatchKind | null;
  /** The longest wait the decoded request asks the broker for (maxWaitMs, timeouts); 0 if none. */
  readonly waitMs: number;
}

export const FUZZ_TOPIC = 'fuzz-topic';
export const FUZZ_PARTITIONS = 2;
const PRODUCE_KEY = 0;
const WAIT_FIELD = /(timeout|wait)(ms)?$/i;
const TOPIC_FIELD = /^(name|topic|topicName)$/;

interface ApiEntry {
  readonly apiKey: number;
  readonly schema: MessageSchema;
  readonly min: number;
  readonly max: number;
}

const APIS: readonly ApiEntry[] = Object.entries(REQUEST_SCHEMAS as Readonly<Record<number, MessageSchema>>).flatMap(([key, schema]) => {
  const range = parseVersions(schema.validVersions);
  return range === null ? [] : [{ apiKey: Number(key), schema, min: range.min, max: range.max }];
});

/** Every (apiKey, version) the schemas define — what "every API's schema" covers. */
export function schemaVersions(): number {
  return APIS.reduce((n, a) => n + a.max - a.min + 1, 0);
}

function frameOf(chunks: readonly Buffer[]): Buffer {
  const body = Buffer.concat(chunks);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return Buffer.concat([size, body]);
}

function validBatch(rnd: Random, records = rnd.int(1, 4)): Buffer {
  return encodeRecordBatch({ records: Array.from({ length: records }, (_, i) => ({ key: `k${i}`, value: `fuzz-${rnd.int(0, 1e9)}` })) });
}

/** A batch broken in exactly one way; the CRC is recomputed where the break is not the CRC itself. */
export function badBatch(kind: BadBatchKind, rnd: Random): Buffer {
  const batch = Buffer.from(validBatch(rnd, rnd.int(2, 5)));
  const fixCrc = (): Buffer => {
    writeCrc(batch);
    return batch;
  };
  switch (kind) {
    case 'crc-flip':
      batch[CRC_OFFSET + rnd.int(0, 3)]! ^= 1 << rnd.int(0, 7);
      return batch;
    case 'body-flip':
      batch[rnd.int(ATTRIBUTES_OFFSET, batch.length - 1)]! ^= 1 << rnd.int(0, 7);
      return computeCrc(batch) === batch.readUInt32BE(CRC_OFFSET) ? badBatch('crc-flip', rnd) : batch;
    case 'magic':
      batch[MAGIC_OFFSET] = [0, 1, 3, 255][rnd.int(0, 3)]!;
      return batch;
    case 'length-long':
      batch.writeInt32BE(batch.readInt32BE(BATCH_LENGTH_OFFSET) + rnd.int(1, 1000), BATCH_LENGTH_OFFSET);
      return batch;
    case 'length-short':
      batch.writeInt32BE(batch.readInt32BE(BATCH_LENGTH_OFFSET) - rnd.int(1, 20), BATCH_LENGTH_OFFSET);
      return batch;
    case 'count-more':
      batch.writeInt32BE(batch.readInt32BE(RECORD_COUNT_OFFSET) + rnd.int(1, 1000), RECORD_COUNT_OFFSET);
      batch.writeInt32BE(batch.readInt32BE(RECORD_COUNT_OFFSET) - 1, LAST_OFFSET_DELTA_OFFSET);
      return fixCrc();
    case 'count-fewer':
      batch.writeInt32BE(1, RECORD_COUNT_OFFSET);
      batch.writeInt32BE(0, LAST_OFFSET_DELTA_OFFSET);
      return fixCrc();
    case 'count-negative':
      batch.writeInt32BE(-rnd.int(1, 5), RECORD_COUNT_OFFSET);
      return fixCrc();
    case 'delta-wrong':
      batch.writeInt32BE(batch.readInt32BE(LAST_OFFSET_DELTA_OFFSET) + rnd.int(1, 50), LAST_OFFSET_DELTA_OFFSET);
      return fixCrc();
    case 'compression-unknown':
      batch.writeInt16BE((batch.readInt16BE(ATTRIBUTES_OFFSET) & ~0x07) | rnd.int(5, 7), ATTRIBUTES_OFFSET);
      return fixCrc();
    case 'compression-garbage':
      // gzip (1), snappy (2), lz4 (3) or zstd (4) declared over bytes that are not compressed data.
      batch.writeInt16BE((batch.readInt16BE(ATTRIBUTES_OFFSET) & ~0x07) | rnd.int(1, 4), ATTRIBUTES_OFFSET);
      return fixCrc();
    case 'control':
      batch.writeInt16BE(batch.readInt16BE(ATTRIBUTES_OFFSET) | 0x20, ATTRIBUTES_OFFSET);
      return fixCrc();
    case 'truncated-batch':
      return batch.subarray(0, rnd.int(1, batch.length - 1));
    case 'trailing-garbage':
      return Buffer.concat([fixCrc(), Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, rnd.int(1, 40)]), rnd.bytes(rnd.int(0, 30))]);
    case 'records-garbage':
      // The header is sound and the CRC matches, but the records section is not records.
      rnd.bytes(batch.length - RECORDS_OFFSET).copy(batch, RECORDS_OFFSET);
      return fixCrc();
  }
}

/** Walks a random request value: waits kept short, topic names often the fuzz topic, records often a batch. */
function steer(value: unknown, rnd: Random): void {
  if (Array.isArray(value)) {
    for (const item of value) steer(item, rnd);
    return;
  }
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return;
  const obj = value as Record<string, unknown>;
  for (const [key, field] of Object.entries(obj)) {
    if (typeof field === 'number' && WAIT_FIELD.test(key)) obj[key] = rnd.int(-1, 300);
    else if (typeof field === 'string' && TOPIC_FIELD.test(key) && rnd.chance(0.4)) obj[key] = FUZZ_TOPIC;
    else if (key === 'partitionIndex' || key === 'partition' || key === 'index') {
      if (typeof field === 'number' && rnd.chance(0.6)) obj[key] = rnd.int(-1, FUZZ_PARTITIONS);
    } else if (key === 'records' && field !== null && rnd.chance(0.7)) {
      obj[key] = rnd.chance(0.5) ? validBatch(rnd) : badBatch(BAD_BATCH_KINDS[rnd.int(0, BAD_BATCH_KINDS.length - 1)]!, rnd);
    } else if (key === 'acks' && typeof field === 'number') obj[key] = rnd.chance(0.5) ? -1 : 1;
    else steer(field, rnd);
  }
}

function longestWait(value: unknown): number {
  if (Array.isArray(value)) return value.reduce((m: number, v) => Math.max(m, longestWait(v)), 0);
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return 0;
  let longest = 0;
  for (const [key, field] of Object.entries(value as Record<string, unknown>)) {
    if (typeof field === 'number' && WAIT_FIELD.test(key)) longest = Math.max(longest, field);
    else longest = Math.max(longest, longestWait(field));
  }
  return longest;
}

/** What the codec makes of a frame (size prefix included): the broker decodes with the same codec. */
export function classify(kind: FrameKind, bytes: Buffer, badBatchKind: BadBatchKind | null = null, endAfter = false): FuzzFrame {
  const body = bytes.subarray(4);
  let apiKey = Number.NaN;
  let version = Number.NaN;
  let correlationId = Number.NaN;
  let wellFormed = false;
  let noResponseExpected = false;
  let waitMs = 0;
  if (body.length >= 8) {
    apiKey = body.readInt16BE(0);
    version = body.readInt16BE(2);
    correlationId = body.readInt32BE(4);
  }
  if (!endAfter && bytes.length >= 4 && bytes.readInt32BE(0) === body.length) {
    try {
      const header = decodeRequestHeader(body);
      if (header.bodyOffset >= 0) {
        const request = decodeRequest(header.apiKey as keyof RequestByKey, header.apiVersion, body, header.bodyOffset);
        wellFormed = true;
        waitMs = longestWait(request);
        if (header.apiKey === PRODUCE_KEY) noResponseExpected = (request as RequestByKey[0]).acks === 0;
      }
    } catch {
      wellFormed = false;
    }
  }
  return { kind, bytes, apiKey, version, correlationId, wellFormed, noResponseExpected, endAfter, badBatch: badBatchKind, waitMs };
}

export class FrameFactory {
  readonly #rnd: Random;
  readonly #maxFrameBytes: number;
  readonly #produceVersions: readonly number[];
  #correlationId = 1;

  readonly #advertised: readonly ApiEntry[];

  /**
   * `advertised`: the broker's ApiVersions ranges. Schema frames go to an advertised (apiKey,
   * version) three times in four, so most reach a handler; the rest cover every schema.
   */
  constructor(seed: number, maxFrameBytes: number, advertised: ReadonlyMap<number, { readonly min: number; readonly max: number }>) {
    this.#rnd = new Random(seed);
    this.#maxFrameBytes = maxFrameBytes;
    const produce = advertised.get(PRODUCE_KEY) ?? { min: 3, max: 9 };
    this.#produceVersions = Array.from({ length: produce.max - produce.min + 1 }, (_, i) => produce.min + i);
    this.#advertised = APIS.flatMap((api) => {
      const range = advertised.get(api.apiKey);
      if (range === undefined) return [];
      const min = Math.max(api.min, range.min);
      const max = Math.min(api.max, range.max);
      return min <= max ? [{ ...api, min, max }] : [];
    });
  }

  next(kind: FrameKind): FuzzFrame {
    const rnd = this.#rnd;
    switch (kind) {
      case 'schema':
        return classify(kind, this.#schemaFrame());
      case 'mutated':
        return classify(kind, this.#mutate(this.#schemaFrame()));
      case 'random':
        return classify(kind, this.#randomFrame());
      case 'truncated': {
        const whole = this.#schemaFrame();
        return classify(kind, whole.subarray(0, rnd.int(1, whole.length - 1)), null, true);
      }
      case 'oversized': {
        const size = [this.#maxFrameBytes + 1, this.#maxFrameBytes * 2, 0x7fffffff, -1, -0x80000000][rnd.int(0, 4)]!;
        const bytes = Buffer.concat([Buffer.alloc(4), rnd.bytes(rnd.int(0, 64))]);
        bytes.writeInt32BE(size, 0);
        return classify(kind, bytes);
      }
      case 'bad-batch': {
        const which = BAD_BATCH_KINDS[rnd.int(0, BAD_BATCH_KINDS.length - 1)]!;
        const version = this.#produceVersions[rnd.int(0, this.#produceVersions.length - 1)] ?? 9;
        const records = badBatch(which, rnd);
        const bytes = frameOf(encodeRequest(PRODUCE_KEY, version, this.#correlationId++, 'fuzz', {
          transactionalId: null, acks: rnd.chance(0.5) ? -1 : 1, timeoutMs: 1_000,
          topicData: [{ name: FUZZ_TOPIC, partitionData: [{ index: rnd.int(0, FUZZ_PARTITIONS - 1), records }] }],
        }));
        return classify(kind, bytes, which);
      }
    }
  }

  #schemaFrame(): Buffer {
    const rnd = this.#rnd;
    const pool = this.#advertised.length > 0 && rnd.chance(0.75) ? this.#advertised : APIS;
    const api = pool[rnd.int(0, pool.length - 1)]!;
    const version = rnd.int(api.min, api.max);
    const value = randomStruct(compileMessage(api.schema, version), rnd);
    steer(value, rnd);
    return frameOf(encodeRequest(api.apiKey as keyof RequestByKey, version, this.#correlationId++, rnd.chance(0.1) ? null : 'fuzz', value as never));
  }

  #randomFrame(): Buffer {
    const rnd = this.#rnd;
    const body = rnd.bytes(rnd.int(0, 300));
    if (body.length >= 8 && rnd.chance(0.6)) {
      // A plausible header (a real API at a real version) over a random body.
      const api = APIS[rnd.int(0, APIS.length - 1)]!;
      body.writeInt16BE(api.apiKey, 0);
      body.writeInt16BE(rnd.int(api.min, api.max), 2);
      body.writeInt32BE(this.#correlationId++, 4);
    }
    return frameOf([body]);
  }

  /** Mutations keep the size prefix equal to the body length, so the broker's decoders see them. */
  #mutate(frame: Buffer): Buffer {
    const rnd = this.#rnd;
    const body = Buffer.from(frame.subarray(4));
    let out: Buffer;
    switch (rnd.int(0, 5)) {
      case 0: {
        const flips = rnd.int(1, 6);
        for (let i = 0; i < flips && body.length > 0; i++) body[rnd.int(0, body.length - 1)]! ^= 1 << rnd.int(0, 7);
        out = body;
        break;
      }
      case 1:
        out = body.subarray(0, rnd.int(0, Math.max(0, body.length - 1)));
        break;
      case 2: {
        if (body.length >= 12) {
          const at = rnd.int(8, body.length - 4);
          body.writeUInt32BE([0xffffffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0x00010000, 0x0000ffff][rnd.int(0, 5)]!, at);
        }
        out = body;
        break;
      }
      case 3: {
        const at = rnd.int(0, body.length);
        out = Buffer.concat([body.subarray(0, at), Buffer.alloc(rnd.int(1, 12), 0xff), body.subarray(at)]);
        break;
      }
      case 4: {
        // An int16 somewhere (string length, version, error code…) set to an edge value.
        if (body.length >= 6) body.writeInt16BE([-1, -2, 0x7fff, -0x8000, 0][rnd.int(0, 4)]!, rnd.int(4, body.length - 2));
        out = body;
        break;
      }
      default:
        out = Buffer.concat([body, rnd.bytes(rnd.int(1, 16))]);
    }
    return frameOf([out]);
  }
}
