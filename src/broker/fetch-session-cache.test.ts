import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CachedPartition, FetchSessionCache, INVALID_SESSION_ID, nextEpoch, partitionKey, type PartitionFetchState } from './fetch-session-cache.ts';

function state(topicKey: string, partition: number, fetchOffset = 0): PartitionFetchState {
  return { topicKey, partition, fetchOffset, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1 };
}

function partitions(count: number, topicKey = 't'): CachedPartition[] {
  return Array.from({ length: count }, (_, p) => new CachedPartition(state(topicKey, p)));
}

/** A cache on a clock the test moves, with ids 1, 2, 3… */
function cache(maxSlots: number, evictionMs = 1_000, maxPartitions?: number): { cache: FetchSessionCache; clock: { now: number } } {
  const clock = { now: 0 };
  let nextId = 0;
  return { cache: new FetchSessionCache({ maxSlots, evictionMs, nowMs: () => clock.now, randomId: () => ++nextId, ...(maxPartitions === undefined ? {} : { maxPartitions }) }), clock };
}

describe('FetchSessionCache', () => {
  test('a new session gets a nonzero id, epoch 1 and the partitions of its full fetch', () => {
    const { cache: c } = cache(10);
    const id = c.create(true, partitions(3));
    assert.notEqual(id, INVALID_SESSION_ID);
    const session = c.get(id);
    assert.ok(session !== undefined);
    assert.equal(session.epoch, 1);
    assert.equal(session.usesTopicIds, true);
    assert.deepEqual([...session.partitions.values()].map((p) => p.partition), [0, 1, 2]);
    assert.equal(c.size, 1);
    assert.equal(c.partitionCount, 3);
  });

  test('ids in use are never handed out twice, and 0 never', () => {
    const ids = [0, 7, 7, 8];
    const c = new FetchSessionCache({ maxSlots: 10, randomId: () => ids.shift() ?? 99 });
    assert.equal(c.create(false, partitions(1)), 7);
    assert.equal(c.create(false, partitions(1)), 8);
  });

  test('0 slots: sessions are off', () => {
    const { cache: c } = cache(0);
    assert.equal(c.create(false, partitions(5)), INVALID_SESSION_ID);
    assert.equal(c.size, 0);
  });

  test('an incremental update adds new partitions, updates known ones and removes forgotten ones', () => {
    const { cache: c } = cache(10);
    const session = c.get(c.create(false, partitions(3))) as NonNullable<ReturnType<FetchSessionCache['get']>>;
    assert.equal(c.update(session, [state('t', 1, 42), state('u', 0, 5)], [{ topicKey: 't', partition: 2 }, { topicKey: 't', partition: 9 }]), true);
    assert.equal(c.partitionCount, 3);
    assert.deepEqual([...session.partitions.keys()], [partitionKey('t', 0), partitionKey('t', 1), partitionKey('u', 0)]);
    assert.equal(session.partitions.get(partitionKey('t', 1))?.fetchOffset, 42);
    assert.equal(session.partitions.get(partitionKey('u', 0))?.fetchOffset, 5);
    assert.equal(session.partitions.get(partitionKey('u', 0))?.highWatermark, -1, 'a new partition has told the client nothing yet');
  });

  test('a partition is answered when it has records, a new high watermark or log start offset, or an error', () => {
    const p = new CachedPartition(state('t', 0));
    const quiet = { errorCode: 0, highWatermark: 10, logStartOffset: 0, recordBytes: 0 };
    assert.equal(p.mustRespond(quiet), true, 'first answer: everything is new');
    assert.equal(p.mustRespond(quiet), false, 'nothing changed');
    assert.equal(p.mustRespond({ ...quiet, recordBytes: 100 }), true, 'records');
    assert.equal(p.mustRespond({ ...quiet, highWatermark: 11 }), true, 'high watermark moved');
    assert.equal(p.mustRespond({ ...quiet, highWatermark: 11 }), false);
    assert.equal(p.mustRespond({ ...quiet, highWatermark: 11, logStartOffset: 3 }), true, 'log start moved');
    assert.equal(p.mustRespond({ errorCode: 6, highWatermark: -1, logStartOffset: -1, recordBytes: 0 }), true, 'error');
    assert.equal(p.mustRespond({ errorCode: 6, highWatermark: -1, logStartOffset: -1, recordBytes: 0 }), true, 'an error is always answered');
    assert.equal(p.mustRespond({ ...quiet, highWatermark: 11, logStartOffset: 3 }), true, 'the partition is sent again when the error clears');
  });

  test('rotate moves a partition to the end of the fetch order', () => {
    const { cache: c } = cache(10);
    const session = c.get(c.create(false, partitions(3))) as NonNullable<ReturnType<FetchSessionCache['get']>>;
    session.rotate(session.partitions.get(partitionKey('t', 0)) as CachedPartition);
    assert.deepEqual([...session.partitions.values()].map((p) => p.partition), [1, 2, 0]);
  });

  test('epochs count up from 1 and wrap to 1 after Int32 max', () => {
    assert.equal(nextEpoch(0), 1);
    assert.equal(nextEpoch(41), 42);
    assert.equal(nextEpoch(0x7fffffff), 1);
    assert.equal(nextEpoch(-1), -1);
  });

  test('a full cache keeps no new session while every session is young', () => {
    const { cache: c, clock } = cache(2, 1_000);
    assert.notEqual(c.create(false, partitions(1)), INVALID_SESSION_ID);
    assert.notEqual(c.create(false, partitions(1)), INVALID_SESSION_ID);
    clock.now = 500;
    assert.equal(c.create(false, partitions(100)), INVALID_SESSION_ID, 'sessions younger than the eviction time are safe');
    assert.equal(c.size, 2);
    assert.equal(c.evictions, 0);
  });

  test('a session idle longer than the eviction time is evicted first (least recently used)', () => {
    const { cache: c, clock } = cache(2, 1_000);
    const a = c.create(false, partitions(50));
    const b = c.create(false, partitions(50));
    clock.now = 900;
    c.touch(c.get(a) as NonNullable<ReturnType<FetchSessionCache['get']>>);
    clock.now = 1_500; // b idle 1,500 ms, a idle 600 ms
    const d = c.create(false, partitions(1));
    assert.notEqual(d, INVALID_SESSION_ID, 'even a smaller session takes the slot of an idle one');
    assert.equal(c.get(b), undefined);
    assert.ok(c.get(a) !== undefined);
    assert.equal(c.evictions, 1);
  });

  test('without idle sessions, an old session with fewer partitions gives its slot to one with more', () => {
    const { cache: c, clock } = cache(3, 1_000);
    const small = c.create(false, partitions(2));
    const medium = c.create(false, partitions(5));
    clock.now = 800;
    const young = c.create(false, partitions(1));
    clock.now = 1_200;
    for (const id of [small, medium, young]) c.touch(c.get(id) as NonNullable<ReturnType<FetchSessionCache['get']>>);
    assert.equal(c.create(false, partitions(2)), INVALID_SESSION_ID, 'not strictly more partitions than the smallest old session');
    const big = c.create(false, partitions(3));
    assert.notEqual(big, INVALID_SESSION_ID);
    assert.equal(c.get(small), undefined, 'the old session with the fewest partitions went');
    assert.ok(c.get(young) !== undefined, 'a young session is never evicted this way, small as it is');
    assert.ok(c.get(medium) !== undefined);
    assert.equal(c.size, 3, 'the bound holds');
  });

  test('the cache never holds more sessions than its slots', () => {
    const { cache: c, clock } = cache(5, 10);
    for (let i = 0; i < 200; i++) {
      clock.now += 7;
      c.create(false, partitions(1 + (i % 4)));
      assert.ok(c.size <= 5);
    }
    assert.ok(c.evictions > 0);
  });

  test('the partition bound: a new session that would pass it frees room by the eviction rules or is not kept', () => {
    const { cache: c, clock } = cache(100, 1_000, 10);
    const a = c.create(false, partitions(6));
    assert.notEqual(a, INVALID_SESSION_ID);
    assert.equal(c.create(false, partitions(5)), INVALID_SESSION_ID, '6 + 5 > 10 and the first session is young');
    assert.equal(c.create(false, partitions(11)), INVALID_SESSION_ID, 'larger than the whole bound');
    clock.now = 2_000;
    const b = c.create(false, partitions(5));
    assert.notEqual(b, INVALID_SESSION_ID, 'the idle session made room');
    assert.equal(c.get(a), undefined);
    assert.equal(c.partitionCount, 5);
  });

  test('the partition bound: an incremental fetch that would pass it closes its session', () => {
    const { cache: c } = cache(100, 1_000, 10);
    const id = c.create(false, partitions(8));
    const session = c.get(id) as NonNullable<ReturnType<FetchSessionCache['get']>>;
    assert.equal(c.update(session, [state('u', 0), state('u', 1)], []), true, 'exactly at the bound');
    assert.equal(c.update(session, [state('u', 2)], []), false);
    assert.equal(c.get(id), undefined);
    assert.equal(c.partitionCount, 0);
  });
});
