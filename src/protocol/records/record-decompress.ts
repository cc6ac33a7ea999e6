/**
 * Decompression of a batch's records section, bounded in output size, for the four codecs Kafka defines.
 * The broker needs it for one thing only: computing a compressed batch's timestamps on Produce (Kafka's
 * LogValidator does the same) and finding a record by time for ListOffsets. The stored bytes are never
 * re-encoded. Uncompressed batches never come here (their records are read in place).
 *
 * - gzip, zstd: node:zlib (Node 24 ships zstd), `maxOutputLength` bounds the output.
 * - snappy: Kafka's Java client writes snappy-java's "xerial" framing (magic `\x82SNAPPY\0`, two int32
 *   versions, then int32-length-prefixed raw snappy blocks); librdkafka and others write one raw block.
 *   Both are read; each raw block's declared length (its leading varint) is checked before decoding.
 * - lz4: the LZ4 frame format (Kafka's KafkaLZ4BlockOutputStream, librdkafka's lz4f). The frame's block
 *   headers are walked first to bound the output (block maximum size × compressed blocks + stored blocks).
 * snappy and lz4 blocks are decoded by @platformatic/wasm-utils (WebAssembly, no native build; see
 * docs/design/protocol.md, "Decompression").
 */
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { lz4Decompress, snappyDecompress } from '@platformatic/wasm-utils';
import { ProtocolError } from '../protocol-error.ts';
import { COMPRESSION_CODECS, compressionId, recordsSection } from './record-batch.ts';

/**
 * Largest decompressed records section the broker accepts. Kafka has no such bound (it streams); one is
 * needed here because decompression is in memory, and a few hundred bytes of lz4 or zstd can claim
 * gigabytes. Far above any real producer batch (librdkafka's batch.size is 1 MB uncompressed).
 */
export const MAX_DECOMPRESSED_BYTES = 128 * 1024 * 1024;

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;
const LZ4_FRAME_MAGIC = 0x184d2204;
const LZ4_BLOCK_MAX_BYTES = [0, 0, 0, 0, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024];

/** Thrown when a payload does not decompress or would exceed the bound; `tooLarge` tells which. */
export class DecompressError extends ProtocolError {
  readonly tooLarge: boolean;

  constructor(message: string, tooLarge: boolean, cause?: unknown) {
    super('KSC_PROTOCOL_MALFORMED', message, cause === undefined ? undefined : { cause });
    this.name = 'DecompressError';
    this.tooLarge = tooLarge;
  }
}

function tooLarge(codec: string, bytes: number | string, maxBytes: number): DecompressError {
  return new DecompressError(`record batch ${codec} payload decompresses to ${bytes} bytes, more than the broker's bound of ${maxBytes}`, true);
}

/** The records section of `batch`, decompressed (a view of the batch itself when uncompressed). */
export function decompressRecords(batch: Buffer, maxBytes = MAX_DECOMPRESSED_BYTES): Buffer {
  const id = compressionId(batch);
  const section = recordsSection(batch);
  const name = COMPRESSION_CODECS[id] ?? `id ${id}`;
  switch (id) {
    case 0:
      return section;
    case 1:
    case 4:
      try {
        return id === 1 ? gunzipSync(section, { maxOutputLength: maxBytes }) : zstdDecompressSync(section, { maxOutputLength: maxBytes });
      } catch (cause) {
        if ((cause as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(name, 'more than that', maxBytes);
        throw new DecompressError(`record batch ${name} payload does not decompress: ${(cause as Error).message}`, false, cause);
      }
    case 2:
      return snappy(section, maxBytes);
    case 3:
      return lz4(section, maxBytes);
    default:
      throw new DecompressError(`record batch uses compression ${name}, which Kafka does not define`, false);
  }
}

/** Uncompressed length a raw snappy block declares (its leading little-endian base-128 varint). */
function snappyLength(block: Buffer): number {
  let value = 0;
  for (let i = 0; i < 5 && i < block.length; i++) {
    const byte = block[i]!;
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) return value;
  }
  throw new DecompressError('record batch snappy block has no valid length preamble', false);
}

function snappyBlock(block: Buffer): Buffer {
  if (block.length === 0) throw new DecompressError('record batch snappy block is empty', false);
  try {
    return snappyDecompress(block);
  } catch (cause) {
    throw new DecompressError('record batch snappy payload does not decompress', false, cause);
  }
}

function snappy(section: Buffer, maxBytes: number): Buffer {
  if (section.length < XERIAL_HEADER_BYTES || !section.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC)) {
    const declared = snappyLength(section);
    if (declared > maxBytes) throw tooLarge('snappy', declared, maxBytes);
    return snappyBlock(section);
  }
  const blocks: Buffer[] = [];
  let total = 0;
  let at = XERIAL_HEADER_BYTES;
  while (at < section.length) {
    if (at + 4 > section.length) throw new DecompressError('record batch snappy (xerial) payload ends inside a block length', false);
    const length = section.readInt32BE(at);
    at += 4;
    if (length <= 0 || at + length > section.length) throw new DecompressError(`record batch snappy (xerial) block of ${length} bytes does not fit the payload`, false);
    const block = section.subarray(at, at + length);
    at += length;
    total += snappyLength(block);
    if (total > maxBytes) throw tooLarge('snappy', total, maxBytes);
    blocks.push(snappyBlock(block));
  }
  return blocks.length === 1 ? blocks[0]! : Buffer.concat(blocks, total);
}

/** Upper bound of what one or more concatenated LZ4 frames decompress to, from their block headers. */
function lz4Bound(data: Buffer): number {
  let bound = 0;
  let at = 0;
  const malformed = (why: string): DecompressError => new DecompressError(`record batch lz4 payload is not an LZ4 frame: ${why}`, false);
  while (at < data.length) {
    if (at + 7 > data.length) throw malformed('truncated frame header');
    if (data.readUInt32LE(at) !== LZ4_FRAME_MAGIC) throw malformed('bad magic');
    const flags = data[at + 4]!;
    const blockMax = LZ4_BLOCK_MAX_BYTES[(data[at + 5]! >> 4) & 0x07] ?? 0;
    if ((flags >> 6) !== 1 || blockMax === 0) throw malformed('unknown version or block size');
    const blockChecksum = (flags & 0x10) !== 0;
    at += 6 + ((flags & 0x08) !== 0 ? 8 : 0) + ((flags & 0x01) !== 0 ? 4 : 0) + 1;
    for (;;) {
      if (at + 4 > data.length) throw malformed('truncated block header');
      const word = data.readUInt32LE(at);
      at += 4;
      if (word === 0) break;
      const size = word & 0x7fffffff;
      const stored = (word & 0x80000000) !== 0;
      if (size > blockMax) throw malformed(`block of ${size} bytes exceeds the frame's block size ${blockMax}`);
      at += size + (blockChecksum ? 4 : 0);
      bound += stored ? size : blockMax;
    }
    if ((flags & 0x04) !== 0) at += 4;
    if (at > data.length) throw malformed('truncated frame');
  }
  return bound;
}

function lz4(section: Buffer, maxBytes: number): Buffer {
  const bound = lz4Bound(section);
  if (bound > maxBytes) throw tooLarge('lz4', `up to ${bound}`, maxBytes);
  try {
    return lz4Decompress(section);
  } catch (cause) {
    throw new DecompressError('record batch lz4 payload does not decompress', false, cause);
  }
}
