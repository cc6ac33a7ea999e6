/**
 * The CLI's Kafka client: bootstrap → Metadata → one connection per broker, reused. Produce, Fetch and
 * ListOffsets go to the partition's leader; group requests go to the group's coordinator.
 *
 *   const client = new KafkaClient({ bootstrap: ['localhost:9092'], clientId: 'kafscale-cli', timeoutMs: 30_000 });
 *   const metadata = await client.metadata(['orders']);
 *   await client.close();
 */
import { ApiKey } from '../protocol/api-keys.ts';
import type { ResponseByKey } from '../protocol/codec/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import { CliError, EXIT_UNREACHABLE, kafkaError, usageError } from './cli-error.ts';
import { KafkaConnection, type ConnectionOptions } from './kafka-connection.ts';

export type { ClientApiKey, Reply } from './kafka-connection.ts';
export { KafkaConnection } from './kafka-connection.ts';

export type MetadataResponse = ResponseByKey[typeof ApiKey.Metadata];
export type MetadataTopic = MetadataResponse['topics'][number];

export interface KafkaClientOptions extends ConnectionOptions {
  /** `host:port` entries; the first one that answers is used. */
  readonly bootstrap: readonly string[];
}

export interface BrokerAddress {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
  readonly rack: string | null;
}

/** Metadata v10+ carries topic ids, which Fetch v13+ addresses topics by. */
const NULL_TOPIC_ID = '00000000-0000-0000-0000-000000000000';
const FIND_COORDINATOR_GROUP = 0;

export function parseHostPort(value: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value.trim());
  const port = match === null ? NaN : Number(match[2]);
  if (match === null || !(port > 0 && port < 65536)) {
    throw usageError(`bad broker address '${value}'`, 'use host:port, e.g. --bootstrap localhost:9092');
  }
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}

export class KafkaClient {
  readonly #options: KafkaClientOptions;
  readonly #bootstrap: { host: string; port: number }[];
  readonly #connections = new Map<string, Promise<KafkaConnection>>();
  #brokers = new Map<number, BrokerAddress>();
  #bootstrapConnection: KafkaConnection | null = null;

  constructor(options: KafkaClientOptions) {
    if (options.bootstrap.length === 0) throw usageError('no bootstrap broker given', 'pass --bootstrap host:port');
    this.#options = options;
    this.#bootstrap = options.bootstrap.map(parseHostPort);
  }

  /** A connection to any reachable bootstrap broker (the first that answers). */
  async any(): Promise<KafkaConnection> {
    if (this.#bootstrapConnection !== null) return this.#bootstrapConnection;
    let last: unknown = null;
    for (const { host, port } of this.#bootstrap) {
      try {
        this.#bootstrapConnection = await this.#connect(host, port);
        return this.#bootstrapConnection;
      } catch (error) {
        last = error;
      }
    }
    if (last instanceof CliError) throw last;
    throw new CliError('cannot connect to any bootstrap broker', { exitCode: EXIT_UNREACHABLE, cause: last });
  }

  /** Metadata for `topics` (null = every topic); refreshes the broker list. */
  async metadata(topics: readonly string[] | null): Promise<MetadataResponse> {
    const connection = await this.any();
    const { body } = await connection.request(ApiKey.Metadata, {
      topics: topics === null ? null : topics.map((name) => ({ name, topicId: NULL_TOPIC_ID })),
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    this.#brokers = new Map(body.brokers.map((b) => [b.nodeId, { nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack }]));
    return body;
  }

  /** Metadata of one topic; an unknown topic is an error naming it. */
  async topic(name: string): Promise<MetadataTopic> {
    const metadata = await this.metadata([name]);
    const topic = metadata.topics.find((t) => t.name === name);
    if (topic === undefined) throw kafkaError(`topic '${name}'`, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    if (topic.errorCode !== ErrorCode.NONE) throw kafkaError(`topic '${name}'`, topic.errorCode);
    return topic;
  }

  brokers(): readonly BrokerAddress[] {
    return [...this.#brokers.values()].sort((a, b) => a.nodeId - b.nodeId);
  }

  /** A connection to broker `nodeId` as the last Metadata named it. */
  async broker(nodeId: number): Promise<KafkaConnection> {
    let address = this.#brokers.get(nodeId);
    if (address === undefined) {
      await this.metadata([]);
      address = this.#brokers.get(nodeId);
    }
    if (address === undefined) {
      throw new CliError(`broker ${nodeId} is not in the cluster's metadata`, { hint: 'the broker may have left; try again' });
    }
    return this.#connect(address.host, address.port);
  }

  /** The leader's connection for a partition of a topic from `topic` metadata. */
  async leader(topic: MetadataTopic, partition: number): Promise<KafkaConnection> {
    const p = topic.partitions.find((candidate) => candidate.partitionIndex === partition);
    if (p === undefined) {
      throw kafkaError(`topic '${topic.name ?? '?'}' partition ${partition}`, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    }
    if (p.errorCode !== ErrorCode.NONE) throw kafkaError(`topic '${topic.name ?? '?'}' partition ${partition}`, p.errorCode);
    if (p.leaderId < 0) throw kafkaError(`topic '${topic.name ?? '?'}' partition ${partition}`, ErrorCode.LEADER_NOT_AVAILABLE);
    return this.broker(p.leaderId);
  }

  /** The coordinator of a consumer group (FindCoordinator). */
  async coordinator(groupId: string): Promise<KafkaConnection> {
    const connection = await this.any();
    const { version, body } = await connection.request(ApiKey.FindCoordinator, {
      key: groupId,
      keyType: FIND_COORDINATOR_GROUP,
      coordinatorKeys: [groupId],
    });
    // v4+ answers per key in `coordinators`; older versions answer in the top-level fields.
    const answer = version >= 4 ? body.coordinators[0] : body;
    if (answer === undefined) throw new CliError(`the broker at ${connection.address} named no coordinator for group '${groupId}'`);
    if (answer.errorCode !== ErrorCode.NONE) throw kafkaError(`group '${groupId}'`, answer.errorCode, answer.errorMessage);
    return this.#connect(answer.host, answer.port);
  }

  async close(): Promise<void> {
    const pending = [...this.#connections.values()];
    this.#connections.clear();
    this.#bootstrapConnection = null;
    for (const result of await Promise.allSettled(pending)) {
      if (result.status === 'fulfilled') result.value.close();
    }
  }

  #connect(host: string, port: number): Promise<KafkaConnection> {
    const key = `${host}:${port}`;
    let connection = this.#connections.get(key);
    if (connection === undefined) {
      connection = KafkaConnection.open(host, port, this.#options);
      // A failed attempt is not cached: the next call tries again.
      connection.catch(() => this.#connections.delete(key));
      this.#connections.set(key, connection);
    }
    return connection;
  }
}
