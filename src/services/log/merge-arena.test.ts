/**
 * MergeArena: one merge at a time gets back-to-back slots in one buffer, allocated once at its maximum
 * and reused, and dropped only after no merge has leased it for its idle time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MergeArena } from './merge-arena.ts';

const MIB = 1024 * 1024;

test('slots are back to back in one buffer, one lease at a time, reused after release', () => {
  const arena = new MergeArena(8 * MIB, 1_000);
  assert.equal(arena.capacityBytes, 0, 'nothing is allocated before a merge needs it');
  const first = arena.lease([100, 0, 300], 0);
  assert.ok(first !== null);
  assert.deepEqual(first.slots.map((s) => s.length), [100, 0, 300]);
  assert.equal(first.slots[2]!.byteOffset - first.slots[0]!.byteOffset, 100);
  assert.ok(first.slots.every((s) => s.buffer === first.slots[0]!.buffer));
  assert.equal(arena.capacityBytes, 8 * MIB, 'allocated once, at the maximum');
  assert.equal(arena.lease([1], 0), null, 'a second merge keeps its own Buffers while the arena is leased');
  first.release();
  first.release();
  const second = arena.lease([8 * MIB], 0);
  assert.ok(second !== null);
  assert.equal(second.slots[0]!.buffer, first.slots[0]!.buffer, 'the same memory, not a new allocation');
  second.release();
  assert.equal(arena.lease([4 * MIB, 4 * MIB, 1], 0), null, 'a merge over the maximum gets no lease');
});

test('trim drops the memory only after idleMs without a lease, and never while one is held', () => {
  const arena = new MergeArena(MIB, 1_000);
  arena.lease([10], 0)!.release();
  arena.trim(999);
  assert.equal(arena.capacityBytes, MIB, 'leased within idleMs: kept');
  arena.lease([10], 500)!.release();
  arena.trim(1_400);
  assert.equal(arena.capacityBytes, MIB, 'the idle time counts from the last lease');
  arena.trim(1_500);
  assert.equal(arena.capacityBytes, 0, 'idle for idleMs: dropped');
  const held = arena.lease([10], 2_000)!;
  arena.trim(10_000);
  assert.equal(arena.capacityBytes, MIB, 'not while a merge holds it');
  held.release();
  arena.trim(10_000);
  assert.equal(arena.capacityBytes, 0);
});

test('reserve allocates ahead of the first merge and counts as a use', () => {
  const arena = new MergeArena(MIB, 1_000);
  arena.reserve(0);
  assert.equal(arena.capacityBytes, MIB);
  const lease = arena.lease([MIB], 10)!;
  const reserved = lease.slots[0]!.buffer;
  lease.release();
  arena.reserve(500);
  assert.equal(arena.lease([1], 600)!.slots[0]!.buffer, reserved, 'reserving again keeps the same memory');
  arena.trim(1_599);
  assert.equal(arena.capacityBytes, MIB);
});
