import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogKeys, MetaKeys } from '../cluster/meta-keys.ts';
import { encodeJson, encodeLogEntry, type LogEntry } from './log-entry.ts';
import { PartitionState } from './partition-state.ts';

function entry(baseOffset: number, lastOffset: number): LogEntry {
  return { baseOffset, lastOffset, objectKey: `o-${baseOffset}`, byteStart: 0, byteEnd: 10, maxTimestamp: 1, batchCount: 1, epoch: 1 };
}

test('applyEntry and a watch event of the same key are idempotent by revision', () => {
  const state = new PartitionState('tid', 0);
  assert.equal(state.applyEntry(0, entry(0, 4), 10), true);
  assert.equal(state.entryRevision(0), 10);
  // The watch delivers the same put later: ignored.
  const key = MetaKeys.partitionLogEntry('tid', 0, 0);
  assert.equal(state.apply(LogKeys.suffix(0), { key, value: encodeLogEntry(entry(0, 4)), createRevision: 10, modRevision: 10, version: 1, lease: null }, 10), false);
  assert.equal(state.applyEntry(5, entry(5, 9), 11), true);
  assert.equal(state.highWatermark, 10);
  // A stale delete does not undo a newer put; a newer one does.
  assert.equal(state.applyEntry(5, null, 11), false);
  assert.equal(state.applyEntry(5, null, 12), true);
  assert.deepEqual(state.entries.map((e) => e.baseOffset), [0]);
  assert.equal(state.revision, 12);
});

test('applyLogStart and the start key event share one revision', () => {
  const state = new PartitionState('tid', 0);
  assert.equal(state.applyLogStart(7, 20), true);
  assert.equal(state.logStartOffset, 7);
  const key = MetaKeys.partitionLogStart('tid', 0);
  assert.equal(state.apply('start', { key, value: encodeJson({ logStartOffset: 3 }), createRevision: 19, modRevision: 19, version: 1, lease: null }, 19), false);
  assert.equal(state.logStartOffset, 7);
  assert.equal(state.apply('start', { key, value: encodeJson({ logStartOffset: 9 }), createRevision: 21, modRevision: 21, version: 2, lease: null }, 21), true);
  assert.equal(state.logStartOffset, 9);
});
