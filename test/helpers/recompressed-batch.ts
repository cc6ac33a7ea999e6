/**
 * Record batches under codecs the project's encoder does not write (snappy, lz4): the records section of
 * an uncompressed batch compressed with @platformatic/wasm-utils, the header's length, codec bits and
 * CRC fixed, so the result is a valid batch as a Java, librdkafka or sarama producer would send it.
 */
import { lz4Compress, snappyCompress } from '@platformatic/wasm-utils';
import {
  ATTRIBUTES_OFFSET,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_OFFSET,
  LOG_OVERHEAD_BYTES,
  recordsSection,
  writeCrc,
} from '../../src/protocol/records/index.ts';

/** `snappy`: one raw snappy block (librdkafka); `snappy-xerial`: snappy-java's stream framing (Kafka's Java producer); `lz4`: an lz4 frame. */
export type ForeignCodec = 'snappy' | 'snappy-xerial' | 'lz4';

const CODEC_IDS: Readonly<Record<ForeignCodec, number>> = { snappy: 2, 'snappy-xerial': 2, lz4: 3 };
const XERIAL_HEADER = [0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1];

/** snappy-java's stream framing: its magic header, then each chunk as a 4-byte length and a snappy block. */
export function xerialSnappy(data: Buffer, chunkBytes = data.length): Buffer {
  const parts: Buffer[] = [Buffer.from(XERIAL_HEADER)];
  for (let at = 0; at < data.length; at += chunkBytes) {
    const block = snappyCompress(data.subarray(at, at + chunkBytes));
    const length = Buffer.alloc(4);
    length.writeInt32BE(block.length);
    parts.push(length, block);
  }
  return Buffer.concat(parts);
}

function compress(records: Buffer, codec: ForeignCodec): Buffer {
  if (codec === 'snappy') return snappyCompress(records);
  if (codec === 'snappy-xerial') return xerialSnappy(records);
  return lz4Compress(records);
}

/** The records of an uncompressed batch under `codec`: a new valid batch (length, codec bits and CRC fixed). */
export function recompressedBatch(plain: Buffer, codec: ForeignCodec): Buffer {
  return withRecordsPayload(plain, CODEC_IDS[codec], compress(recordsSection(plain), codec));
}

/**
 * `plain`'s header over any records payload under codec id `codecId` — also one that does not
 * decompress (tests of the broker's refusals) — with the length and CRC fixed.
 */
export function withRecordsPayload(plain: Buffer, codecId: number, payload: Buffer): Buffer {
  const out = Buffer.concat([plain.subarray(0, BATCH_HEADER_BYTES), payload]);
  out.writeInt32BE(out.length - LOG_OVERHEAD_BYTES, BATCH_LENGTH_OFFSET);
  out.writeInt16BE((out.readInt16BE(ATTRIBUTES_OFFSET) & ~0x07) | codecId, ATTRIBUTES_OFFSET);
  writeCrc(out);
  return out;
}
