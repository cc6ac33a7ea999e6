/**
 * The console's lists at size: 1,000 topics and 100 groups with committed offsets on a real broker
 * (embedded store), made through the console's own create-topic and reset-offsets calls (the same
 * registry and OffsetCommit paths the Kafka APIs use). The list endpoints must answer well under 1 s.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConsoleClient, startConsoleBroker, type ConsoleBroker } from './api-harness.ts';

const TOPICS = 1_000;
const GROUPS = 100;

describe('console lists at 1,000 topics and 100 groups', { timeout: 300_000 }, () => {
  let broker: ConsoleBroker;
  let client: ConsoleClient;

  before(async () => {
    broker = await startConsoleBroker();
    client = new ConsoleClient(broker.base);
  });

  after(async () => {
    await broker?.close();
  });

  test('topics and groups endpoints answer in well under 1 s', async (t) => {
    const created = Date.now();
    for (let i = 0; i < TOPICS; i += 50) {
      await Promise.all(Array.from({ length: Math.min(50, TOPICS - i) }, async (_, j) => {
        const response = await client.call('POST', '/api/v1/topics', { body: { name: `topic-${String(i + j).padStart(4, '0')}`, partitions: 1 } });
        assert.equal(response.status, 201, response.text);
      }));
    }
    t.diagnostic(`created ${TOPICS} topics in ${Date.now() - created} ms`);
    // Offsets committed by an admin tool (generation -1) for groups that have no members: the console's own reset.
    for (let g = 0; g < GROUPS; g++) {
      const topic = `topic-${String(g * 7).padStart(4, '0')}`;
      const response = await client.call('POST', `/api/v1/groups/group-${g}/offsets`, { body: { topic, to: 'earliest', dryRun: false } });
      assert.equal(response.status, 200, response.text);
    }
    const timed = async (path: string): Promise<{ ms: number; body: { topics?: unknown[]; groups?: unknown[] } }> => {
      const started = performance.now();
      const response = await client.get(path);
      const ms = performance.now() - started;
      assert.equal(response.status, 200, response.text);
      return { ms, body: response.json };
    };
    const firstTopics = await timed('/api/v1/topics');
    assert.equal(firstTopics.body.topics?.length, TOPICS);
    const topics = await timed('/api/v1/topics');
    const groups = await timed('/api/v1/groups');
    assert.equal(groups.body.groups?.length, GROUPS);
    const overview = await timed('/api/v1/overview');
    t.diagnostic(`GET /api/v1/topics ${firstTopics.ms.toFixed(0)} ms (first), ${topics.ms.toFixed(0)} ms; /groups ${groups.ms.toFixed(0)} ms; /overview ${overview.ms.toFixed(0)} ms`);
    for (const [name, ms] of [['topics', topics.ms], ['groups', groups.ms], ['overview', overview.ms]] as const) assert.ok(ms < 1_000, `${name} took ${ms.toFixed(0)} ms`);
    assert.ok(firstTopics.ms < 2_000, `the first topics list took ${firstTopics.ms.toFixed(0)} ms`);
  });
});
