/**
 * Creates a topic the way a Java-style admin client does: kafkajs 2.2.4's admin over its own short-lived
 * connection (CreateTopics with replication chosen by the broker), and fails the test unless the broker
 * created it.
 */
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';

export async function createKafkajsTopic(bootstrap: string, topic: string, partitions: number): Promise<void> {
  const admin = new kafkajs.Kafka({ brokers: [bootstrap], logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: partitions }] }), true);
  } finally {
    await admin.disconnect();
  }
}
