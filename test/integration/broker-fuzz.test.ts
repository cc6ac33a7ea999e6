/**
 * Random and mutated request frames against a live broker: every connection is either answered or
 * closed within a bound (never hangs), the process never crashes, and the broker keeps serving a
 * well-behaved connection throughout. Mutations start from real requests (Metadata, CreateTopics,
 * Produce with a real batch) so that they reach the decoders and handlers, not just the framing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeRequest } from '../../src/protocol/codec/index.ts';
import { encodeRecordBatch } from '../../src/protocol/records/index.ts';
import { startBroker, probeApiVersions, type BrokerProcess } from '../helpers/broker-process.ts';
import { WireClient } from '../helpers/wire-client.ts';

const FRAMES = 400;
const PER_FRAME_TIMEOUT_MS = 3_000;

let broker: BrokerProcess;
let seed = 0x5eed;

function random(): number {
  // xorshift32: deterministic, so a failure can be replayed.
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 0x1_0000_0000;
}

function frameOf(chunks: readonly Buffer[]): Buffer {
  const body = Buffer.concat(chunks);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return Buffer.concat([size, body]);
}

function seeds(): Buffer[] {
  const batch = encodeRecordBatch({ records: [{ key: Buffer.from('k'), value: Buffer.from('fuzz value'), headers: [] }] });
  return [
    frameOf(encodeRequest(3, 12, 1, 'fuzz', { topics: [{ topicId: '00000000-0000-0000-0000-000000000000', name: 'fuzz-topic' }], allowAutoTopicCreation: true })),
    frameOf(encodeRequest(19, 7, 2, 'fuzz', { topics: [{ name: 'fuzz-created', numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 1000, validateOnly: false })),
    frameOf(encodeRequest(0, 9, 3, 'fuzz', { transactionalId: null, acks: -1, timeoutMs: 1000, topicData: [{ name: 'fuzz-topic', partitionData: [{ index: 0, records: batch }] }] })),
    frameOf(encodeRequest(1, 12, 4, 'fuzz', { maxWaitMs: 10, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, topics: [{ topic: 'fuzz-topic', topicId: '00000000-0000-0000-0000-000000000000', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20, replicaDirectoryId: '00000000-0000-0000-0000-000000000000' }] }], forgottenTopicsData: [], rackId: '' })),
    frameOf(encodeRequest(32, 4, 5, 'fuzz', { resources: [{ resourceType: 2, resourceName: 'fuzz-topic', configurationKeys: null }], includeSynonyms: true, includeDocumentation: true })),
  ];
}

function mutate(frame: Buffer): Buffer {
  const out = Buffer.from(frame);
  const kind = Math.floor(random() * 4);
  if (kind === 0) {
    // Bit flips anywhere after the size prefix (keeps the framing intact, so the body decoders see it).
    const flips = 1 + Math.floor(random() * 8);
    for (let i = 0; i < flips; i++) {
      const at = 4 + Math.floor(random() * (out.length - 4));
      out[at] = (out[at] ?? 0) ^ (1 << Math.floor(random() * 8));
    }
    return out;
  }
  if (kind === 1) {
    // Truncated body with a matching size prefix.
    const cut = 4 + Math.floor(random() * (out.length - 4));
    const truncated = out.subarray(0, cut);
    truncated.writeInt32BE(cut - 4);
    return Buffer.from(truncated);
  }
  if (kind === 2) {
    // A length or count field somewhere set to an extreme value.
    const at = 8 + Math.floor(random() * Math.max(1, out.length - 12));
    if (at + 4 <= out.length) out.writeInt32BE(random() < 0.5 ? 0x7fffffff : -2, at);
    return out;
  }
  // Pure random body.
  const body = Buffer.alloc(Math.floor(random() * 200));
  for (let i = 0; i < body.length; i++) body[i] = Math.floor(random() * 256);
  return frameOf([body]);
}

before(async () => {
  broker = await startBroker({ env: { KAFSCALE_AUTO_CREATE_TOPICS: 'true' } });
});

after(async () => {
  await broker?.stop();
});

test(`${FRAMES} mutated frames: each answered or closed in bounded time, the broker keeps serving`, async () => {
  const healthy = await WireClient.connect(broker.host, broker.port);
  const base = seeds();
  let answered = 0;
  let closed = 0;
  try {
    for (let i = 0; i < FRAMES; i++) {
      const frame = mutate(base[i % base.length] as Buffer);
      const client = await WireClient.connect(broker.host, broker.port);
      try {
        client.sendRaw(frame);
        // A frame that neither gets a response nor a close within the bound is a hang.
        const outcome = await client.nextFrame(PER_FRAME_TIMEOUT_MS).then(
          () => 'answered' as const,
          () => (client.isClosed ? ('closed' as const) : ('hung' as const)),
        );
        assert.notEqual(outcome, 'hung', `frame ${i} (${frame.subarray(0, 32).toString('hex')}…) neither answered nor closed`);
        if (outcome === 'answered') answered++;
        else closed++;
      } finally {
        client.close();
      }
      if (i % 50 === 0) {
        const metadata = await healthy.send(3, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
        assert.ok(metadata.brokers.length >= 1, 'the long-lived connection is still served');
      }
    }
  } finally {
    healthy.close();
  }
  assert.equal(await probeApiVersions(broker.host, broker.port, 2_000), 0, 'the broker still answers new connections');
  assert.ok(answered > 0 && closed > 0, `both outcomes exercised (answered ${answered}, closed ${closed})`);
});
