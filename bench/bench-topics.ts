/**
 * Topic setup for the benches: CreateTopics and DeleteTopics over one short-lived wire connection, so that
 * every bench creates its topics the same way and fails with the same message when the broker refuses one.
 */
import { WireClient } from '../test/helpers/wire-client.ts';

export interface BenchBroker {
  readonly host: string;
  readonly port: number;
}

export interface CreateTopicsOptions {
  /** The client id the broker sees (one per bench, so that its logs tell the benches apart). */
  readonly clientId: string;
  /** 1 for a single broker; -1 lets the broker choose (a cluster). */
  readonly replicationFactor?: number;
  /** The broker-side CreateTopics timeout. */
  readonly timeoutMs?: number;
  /** How long the client waits for the answer; creating many partitions at once takes a while. */
  readonly requestTimeoutMs?: number;
  /** Topics per CreateTopics request. */
  readonly topicsPerRequest?: number;
}

const ZERO_TOPIC_ID = '00000000-0000-0000-0000-000000000000';

async function withClient(broker: BenchBroker, clientId: string, action: (client: WireClient) => Promise<void>): Promise<void> {
  const client = await WireClient.connect(broker.host, broker.port, clientId);
  try {
    await action(client);
  } finally {
    client.close();
  }
}

/** Creates every topic with `partitions` partitions; throws naming the first topic the broker refused or left out. */
export async function createTopics(broker: BenchBroker, names: readonly string[], partitions: number, options: CreateTopicsOptions): Promise<void> {
  const { replicationFactor = 1, timeoutMs = 30_000, requestTimeoutMs, topicsPerRequest = names.length } = options;
  await withClient(broker, options.clientId, async (client) => {
    for (let i = 0; i < names.length; i += topicsPerRequest) {
      const batch = names.slice(i, i + topicsPerRequest);
      const topics = batch.map((name) => ({ name, numPartitions: partitions, replicationFactor, assignments: [], configs: [] }));
      const response = await client.send(19, 7, { topics, timeoutMs, validateOnly: false }, requestTimeoutMs);
      for (const name of batch) {
        const result = response.topics.find((t) => t.name === name);
        if (result?.errorCode !== 0) throw new Error(`CreateTopics ${name}: error code ${result?.errorCode} ${result?.errorMessage ?? ''}`);
      }
    }
  });
}

/** Deletes the topics by name. */
export async function deleteTopics(broker: BenchBroker, names: readonly string[], clientId: string): Promise<void> {
  await withClient(broker, clientId, async (client) => {
    await client.send(20, 6, { topics: names.map((name) => ({ name, topicId: ZERO_TOPIC_ID })), timeoutMs: 30_000 });
  });
}
