/**
 * The WAL object container (docs/design/storage.md): header, per-partition directory, raw batches,
 * CRC32C trailer. Every batch given to encodeWalObject must carry a correct CRC (validated on append):
 * the trailer's CRC is combined from them (crc32c-combine.ts). The write path builds it as a list of chunks (batches by reference, never copied);
 * readers of committed data only ever GET a byte range named by a log entry, so decoding the whole
 * container is for the orphan collector, recovery tools and tests.
 */
import { crc32c } from '@node-rs/crc32';
import { continueCrc32cOverBatch } from '../../protocol/records/index.ts';
import { KafscaleError } from '../../telemetry/kafscale-error.ts';

export const WAL_MAGIC = 'KSWL';
export const WAL_TRAILER_MAGIC = 'KSWE';
export const WAL_VERSION = 1;
export const WAL_HEADER_BYTES = 32;
export const WAL_DIRECTORY_ENTRY_BYTES = 64;
export const WAL_TRAILER_BYTES = 8;

export interface WalPartitionRun {
  readonly topicId: string;
  readonly partition: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly maxTimestamp: number;
  readonly batches: readonly Buffer[];
}

export interface WalDirectoryEntry {
  readonly topicId: string;
  readonly partition: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
  /** Absolute byte range in the object, end exclusive. */
  readonly byteStart: number;
  readonly byteEnd: number;
  readonly maxTimestamp: number;
  readonly batchCount: number;
}

export interface EncodedWalObject {
  readonly chunks: Buffer[];
  readonly sizeBytes: number;
  /** One per run, in run order. */
  readonly directory: WalDirectoryEntry[];
}

function uuidBytes(topicId: string): Buffer {
  const hex = topicId.replaceAll('-', '');
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new KafscaleError('KSC_INTERNAL', `topic id ${topicId} is not a UUID`);
  return Buffer.from(hex, 'hex');
}

function uuidString(bytes: Buffer): string {
  const h = bytes.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function encodeWalObject(brokerId: number, createdMs: number, runs: readonly WalPartitionRun[]): EncodedWalObject {
  const directoryBytes = runs.length * WAL_DIRECTORY_ENTRY_BYTES;
  const header = Buffer.alloc(WAL_HEADER_BYTES + directoryBytes);
  header.write(WAL_MAGIC, 0, 'latin1');
  header.writeUInt16BE(WAL_VERSION, 4);
  header.writeUInt16BE(0, 6);
  header.writeInt32BE(brokerId, 8);
  header.writeBigInt64BE(BigInt(createdMs), 12);
  header.writeUInt32BE(runs.length, 20);
  header.writeUInt32BE(directoryBytes, 24);
  const chunks: Buffer[] = [header];
  const directory: WalDirectoryEntry[] = [];
  let position = header.length;
  let at = WAL_HEADER_BYTES;
  for (const run of runs) {
    const byteStart = position;
    for (const batch of run.batches) {
      chunks.push(batch);
      position += batch.length;
    }
    const entry: WalDirectoryEntry = {
      topicId: run.topicId,
      partition: run.partition,
      baseOffset: run.baseOffset,
      lastOffset: run.lastOffset,
      byteStart,
      byteEnd: position,
      maxTimestamp: run.maxTimestamp,
      batchCount: run.batches.length,
    };
    directory.push(entry);
    uuidBytes(run.topicId).copy(header, at);
    header.writeInt32BE(run.partition, at + 16);
    header.writeBigInt64BE(BigInt(run.baseOffset), at + 20);
    header.writeBigInt64BE(BigInt(run.lastOffset), at + 28);
    header.writeBigInt64BE(BigInt(byteStart), at + 36);
    header.writeBigInt64BE(BigInt(position), at + 44);
    header.writeBigInt64BE(BigInt(run.maxTimestamp), at + 52);
    header.writeUInt32BE(run.batches.length, at + 60);
    at += WAL_DIRECTORY_ENTRY_BYTES;
  }
  // The batches' own CRCs (validated on append) stand in for reading their bytes a second time.
  let crc = crc32c(header);
  for (let i = 1; i < chunks.length; i++) crc = continueCrc32cOverBatch(crc, chunks[i] as Buffer);
  const trailer = Buffer.alloc(WAL_TRAILER_BYTES);
  trailer.writeUInt32BE(crc >>> 0, 0);
  trailer.write(WAL_TRAILER_MAGIC, 4, 'latin1');
  chunks.push(trailer);
  return { chunks, sizeBytes: position + WAL_TRAILER_BYTES, directory };
}

export interface DecodedWalObject {
  readonly brokerId: number;
  readonly createdMs: number;
  readonly directory: WalDirectoryEntry[];
}

/** Verifies magic, version and checksum of a whole object and returns its directory. */
export function decodeWalObject(object: Buffer): DecodedWalObject {
  const corrupt = (why: string): KafscaleError => new KafscaleError('KSC_OBJECT_CORRUPT', `WAL object is corrupt: ${why}`);
  if (object.length < WAL_HEADER_BYTES + WAL_TRAILER_BYTES) throw corrupt(`only ${object.length} bytes`);
  if (object.toString('latin1', 0, 4) !== WAL_MAGIC) throw corrupt('bad header magic');
  const version = object.readUInt16BE(4);
  if (version !== WAL_VERSION) throw corrupt(`unknown version ${version}`);
  const trailerAt = object.length - WAL_TRAILER_BYTES;
  if (object.toString('latin1', trailerAt + 4) !== WAL_TRAILER_MAGIC) throw corrupt('bad trailer magic');
  const crc = crc32c(object.subarray(0, trailerAt)) >>> 0;
  if (crc !== object.readUInt32BE(trailerAt)) throw corrupt('checksum mismatch');
  const count = object.readUInt32BE(20);
  if (object.readUInt32BE(24) !== count * WAL_DIRECTORY_ENTRY_BYTES || WAL_HEADER_BYTES + count * WAL_DIRECTORY_ENTRY_BYTES > trailerAt) {
    throw corrupt('directory size does not match its entry count');
  }
  const directory: WalDirectoryEntry[] = [];
  for (let i = 0, at = WAL_HEADER_BYTES; i < count; i++, at += WAL_DIRECTORY_ENTRY_BYTES) {
    directory.push({
      topicId: uuidString(object.subarray(at, at + 16)),
      partition: object.readInt32BE(at + 16),
      baseOffset: Number(object.readBigInt64BE(at + 20)),
      lastOffset: Number(object.readBigInt64BE(at + 28)),
      byteStart: Number(object.readBigInt64BE(at + 36)),
      byteEnd: Number(object.readBigInt64BE(at + 44)),
      maxTimestamp: Number(object.readBigInt64BE(at + 52)),
      batchCount: object.readUInt32BE(at + 60),
    });
  }
  return { brokerId: object.readInt32BE(8), createdMs: Number(object.readBigInt64BE(12)), directory };
}
