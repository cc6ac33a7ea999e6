/**
 * Reads a whole partition over the raw wire client (Fetch v4, topic by name, from offset 0 to the high
 * watermark), returning the stored batches as they came off the wire, for tests that check exactly
 * what the broker kept: offsets, compression attributes, record bytes.
 */
import assert from 'node:assert/strict';
import { baseOffset, nextOffset, splitBatches } from '../../src/protocol/records/index.ts';
import { WireClient } from '../helpers/wire-client.ts';

const FETCH_VERSION = 4;
const MAX_FETCH_ROUNDS = 10_000;

export interface PartitionContents {
  readonly batches: Buffer[];
  readonly highWatermark: bigint;
}

export async function readPartition(
  host: string,
  port: number,
  topic: string,
  partition: number,
  maxBytesPerFetch = 1024 * 1024,
): Promise<PartitionContents> {
  const client = await WireClient.connect(host, port, 'kafscale-partition-reader');
  try {
    const batches: Buffer[] = [];
    let offset = 0n;
    let highWatermark = -1n;
    for (let round = 0; round < MAX_FETCH_ROUNDS; round++) {
      const response = await client.send(1, FETCH_VERSION, {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: maxBytesPerFetch,
        isolationLevel: 0,
        topics: [{ topic, topicId: '00000000-0000-0000-0000-000000000000', partitions: [
            {
              partition,
              currentLeaderEpoch: -1,
              fetchOffset: offset,
              lastFetchedEpoch: -1,
              logStartOffset: -1n,
              partitionMaxBytes: maxBytesPerFetch,
              replicaDirectoryId: '00000000-0000-0000-0000-000000000000',
            },
          ], }],
      });
      const data = response.responses[0]?.partitions[0];
      assert.ok(data, `Fetch answered no partition data for ${topic}-${partition}`);
      assert.equal(data.errorCode, 0, `Fetch ${topic}-${partition} at ${offset}: error code ${data.errorCode}`);
      highWatermark = data.highWatermark;
      if (offset >= highWatermark) break;
      const split = splitBatches(data.records ?? Buffer.alloc(0));
      assert.ok(split.batches.length > 0, `Fetch at ${offset} < HWM ${highWatermark} returned no whole batch`);
      for (const batch of split.batches) {
        // A fetch may start inside a batch only if we asked for an offset inside one; we never do.
        assert.equal(baseOffset(batch), offset, `batch at ${offset} starts at ${baseOffset(batch)}`);
        batches.push(Buffer.from(batch));
        offset = nextOffset(batch);
      }
    }
    assert.equal(offset, highWatermark, `read up to ${offset}, HWM ${highWatermark}`);
    return { batches, highWatermark };
  } finally {
    client.close();
  }
}
