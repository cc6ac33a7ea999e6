/**
 * ListOffsets on the committed log (any broker): earliest, latest, the record with the largest
 * timestamp, or the first record at or after a timestamp. Only the one entry whose maxTimestamp
 * qualifies is read, and in it only the batch whose maxTimestamp qualifies is decoded (ListOffsets is
 * rare); a segment entry is searched block by block from the block its sparse time index names.
 */
import { ErrorCode } from '../../protocol/error-codes.ts';
import { decodeRecordBatch, lastOffset as batchLastOffset, maxTimestamp as batchMaxTimestamp, splitBatches } from '../../protocol/records/index.ts';
import type { LogEntry } from './log-entry.ts';
import type { LogReader } from './log-reader.ts';
import type { PartitionState } from './partition-state.ts';
import { timeSearchStart } from './segment-format.ts';

export type OffsetQuery = 'earliest' | 'latest' | 'maxTimestamp' | { readonly timestampMs: number };

export interface ListOffsetResult {
  readonly errorCode: number;
  /** -1 when no record matches (Kafka's UNKNOWN_OFFSET). */
  readonly offset: number;
  readonly timestampMs: number;
  readonly leaderEpoch: number;
}

type Match = (ts: number, target: number) => boolean;

interface Found {
  readonly offset: number;
  readonly timestampMs: number;
}

const NONE: ListOffsetResult = { errorCode: ErrorCode.NONE, offset: -1, timestampMs: -1, leaderEpoch: -1 };
const isMax: Match = (ts, max) => ts === max;
const atOrAfter: Match = (ts, target) => ts >= target;

/** The answer to `query` on the committed state of one partition. */
export async function listOffsets(reader: LogReader, state: PartitionState, query: OffsetQuery): Promise<ListOffsetResult> {
  const leaderEpoch = state.epochs.at(-1)?.epoch ?? -1;
  if (query === 'earliest') return { errorCode: ErrorCode.NONE, offset: state.logStartOffset, timestampMs: -1, leaderEpoch };
  if (query === 'latest') return { errorCode: ErrorCode.NONE, offset: state.highWatermark, timestampMs: -1, leaderEpoch };
  const logStart = state.logStartOffset;
  if (query === 'maxTimestamp') {
    let best: LogEntry | undefined;
    for (const entry of state.entries) if (entry.lastOffset >= logStart && (best === undefined || entry.maxTimestamp > best.maxTimestamp)) best = entry;
    if (best === undefined) return NONE;
    const found = await findInEntry(reader, best, logStart, isMax, best.maxTimestamp);
    return found === null ? NONE : { errorCode: ErrorCode.NONE, offset: found.offset, timestampMs: found.timestampMs, leaderEpoch: epochOf(state, found.offset) };
  }
  const target = query.timestampMs;
  for (const entry of state.entries) {
    if (entry.lastOffset < logStart || entry.maxTimestamp < target) continue;
    const found = await findInEntry(reader, entry, logStart, atOrAfter, target);
    if (found !== null) return { errorCode: ErrorCode.NONE, offset: found.offset, timestampMs: found.timestampMs, leaderEpoch: epochOf(state, found.offset) };
  }
  return NONE;
}

/** The first record of the entry (at or after logStart) whose timestamp matches. */
async function findInEntry(reader: LogReader, entry: LogEntry, logStart: number, match: Match, target: number): Promise<Found | null> {
  // A segment entry is searched block by block (its index), never GET whole, starting at the block its
  // sparse time index names (segment-format.ts): usually the only one read.
  const from = entry.indexKey === undefined
    ? Math.max(logStart, entry.baseOffset)
    : timeSearchStart(await reader.segmentIndex(entry.indexKey), Math.max(logStart, entry.baseOffset), target);
  if (from === null) return null;
  let range = await reader.rangeFor(entry, from);
  for (let blocks = 0; blocks < 1_000_000; blocks++) {
    const batches = splitBatches(await reader.bytesOf(entry, range)).batches;
    const found = findInBatches(batches, logStart, match, target);
    const last = batches.at(-1);
    if (found !== null || last === undefined || range.end >= entry.byteEnd) return found;
    range = await reader.rangeFor(entry, Number(batchLastOffset(last)) + 1);
  }
  return null;
}

function findInBatches(batches: readonly Buffer[], logStart: number, match: Match, target: number): Found | null {
  for (const batch of batches) {
    if (Number(batchLastOffset(batch)) < logStart || !match(Number(batchMaxTimestamp(batch)), target)) continue;
    try {
      for (const record of decodeRecordBatch(batch).records) {
        const offset = Number(record.offset);
        if (offset >= logStart && match(Number(record.timestamp), target)) return { offset, timestampMs: Number(record.timestamp) };
      }
    } catch {
      // A batch that does not decode (every codec does; stored before the broker checked records): the
      // batch is the best answer it can give.
      const base = Number(batch.readBigInt64BE(0));
      return { offset: Math.max(base, logStart), timestampMs: Number(batchMaxTimestamp(batch)) };
    }
  }
  return null;
}

function epochOf(state: PartitionState, offset: number): number {
  let epoch = -1;
  for (const e of state.epochs) if (e.startOffset <= offset) epoch = e.epoch;
  return epoch;
}
