/**
 * A member of a classic consumer group (protocol type "consumer", range assignor), for
 * `kafscale consume --group`: join (retrying once with the member id the broker hands out, KIP-394),
 * assign partitions when elected leader, sync, heartbeat, commit and leave.
 */
import { ApiKey } from '../protocol/api-keys.ts';
import { decodeData, encodeData } from '../protocol/codec/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import { DATA_SCHEMAS } from '../protocol/messages/index.ts';
import type { ConsumerProtocolAssignment } from '../protocol/messages/consumer-protocol-assignment.ts';
import type { ConsumerProtocolSubscription } from '../protocol/messages/consumer-protocol-subscription.ts';
import { CliError, kafkaError } from './cli-error.ts';
import { commitOffsets, fetchCommittedOffsets, type CommittedOffsets } from './group-offsets.ts';
import type { KafkaClient } from './kafka-client.ts';
import type { KafkaConnection } from './kafka-connection.ts';

const PROTOCOL_TYPE = 'consumer';
const ASSIGNOR = 'range';
/** Version 0 of the consumer protocol structures is what every client can read. */
const CONSUMER_PROTOCOL_VERSION = 0;
const MAX_JOIN_ATTEMPTS = 5;

export interface GroupMemberOptions {
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
}

export class GroupMember {
  readonly groupId: string;
  readonly #client: KafkaClient;
  readonly #topics: readonly string[];
  readonly #options: GroupMemberOptions;
  #coordinator: KafkaConnection | null = null;
  #memberId = '';
  #generationId = -1;

  constructor(client: KafkaClient, groupId: string, topics: readonly string[], options: GroupMemberOptions) {
    this.#client = client;
    this.groupId = groupId;
    this.#topics = topics;
    this.#options = options;
  }

  /** Joins (or rejoins) the group; resolves with this member's partitions per topic. */
  async join(): Promise<Map<string, number[]>> {
    const coordinator = await this.#requireCoordinator();
    for (let attempt = 0; attempt < MAX_JOIN_ATTEMPTS; attempt++) {
      const { body } = await coordinator.request(ApiKey.JoinGroup, {
        groupId: this.groupId,
        sessionTimeoutMs: this.#options.sessionTimeoutMs,
        rebalanceTimeoutMs: this.#options.rebalanceTimeoutMs,
        memberId: this.#memberId,
        groupInstanceId: null,
        protocolType: PROTOCOL_TYPE,
        protocols: [{ name: ASSIGNOR, metadata: encodeSubscription(this.#topics) }],
        reason: null,
      }, this.#options.rebalanceTimeoutMs + 10_000);
      if (body.errorCode === ErrorCode.MEMBER_ID_REQUIRED || body.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) {
        this.#memberId = body.errorCode === ErrorCode.MEMBER_ID_REQUIRED ? body.memberId : '';
        continue;
      }
      if (body.errorCode === ErrorCode.REBALANCE_IN_PROGRESS) continue;
      if (body.errorCode !== ErrorCode.NONE) throw kafkaError(`group '${this.groupId}'`, body.errorCode);
      this.#memberId = body.memberId;
      this.#generationId = body.generationId;
      const assignments = body.leader === body.memberId ? await this.#assign(body.members) : [];
      const sync = await coordinator.request(ApiKey.SyncGroup, {
        groupId: this.groupId,
        generationId: this.#generationId,
        memberId: this.#memberId,
        groupInstanceId: null,
        protocolType: PROTOCOL_TYPE,
        protocolName: ASSIGNOR,
        assignments,
      }, this.#options.rebalanceTimeoutMs + 10_000);
      if (sync.body.errorCode === ErrorCode.REBALANCE_IN_PROGRESS) continue;
      if (sync.body.errorCode !== ErrorCode.NONE) throw kafkaError(`group '${this.groupId}'`, sync.body.errorCode);
      return decodeAssignment(sync.body.assignment);
    }
    throw new CliError(`could not join group '${this.groupId}' after ${MAX_JOIN_ATTEMPTS} attempts`, { hint: 'the group keeps rebalancing; try again' });
  }

  /** False when the group is rebalancing and this member must join again. */
  async heartbeat(): Promise<boolean> {
    const coordinator = await this.#requireCoordinator();
    const { body } = await coordinator.request(ApiKey.Heartbeat, {
      groupId: this.groupId, generationId: this.#generationId, memberId: this.#memberId, groupInstanceId: null,
    });
    if (body.errorCode === ErrorCode.NONE) return true;
    if (body.errorCode === ErrorCode.REBALANCE_IN_PROGRESS || body.errorCode === ErrorCode.ILLEGAL_GENERATION) return false;
    if (body.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) {
      this.#memberId = '';
      return false;
    }
    throw kafkaError(`group '${this.groupId}'`, body.errorCode);
  }

  async committed(topic: string, partitions: readonly number[]): Promise<Map<number, bigint>> {
    const offsets: CommittedOffsets = await fetchCommittedOffsets(await this.#requireCoordinator(), this.groupId, [{ name: topic, partitions }]);
    return offsets.get(topic) ?? new Map();
  }

  async commit(topic: string, offsets: ReadonlyMap<number, bigint>): Promise<void> {
    await commitOffsets(await this.#requireCoordinator(), this.groupId, { generationId: this.#generationId, memberId: this.#memberId }, topic, offsets);
  }

  /** Leaves the group so that the others rebalance at once instead of after the session timeout. */
  async leave(): Promise<void> {
    if (this.#coordinator === null || this.#memberId === '') return;
    const { body } = await this.#coordinator.request(ApiKey.LeaveGroup, {
      groupId: this.groupId,
      memberId: this.#memberId,
      members: [{ memberId: this.#memberId, groupInstanceId: null, reason: 'kafscale consume finished' }],
    });
    this.#memberId = '';
    if (body.errorCode !== ErrorCode.NONE && body.errorCode !== ErrorCode.UNKNOWN_MEMBER_ID) throw kafkaError(`group '${this.groupId}'`, body.errorCode);
  }

  async #requireCoordinator(): Promise<KafkaConnection> {
    if (this.#coordinator !== null) return this.#coordinator;
    const connection = await this.#client.any();
    for (const api of [ApiKey.FindCoordinator, ApiKey.JoinGroup, ApiKey.SyncGroup, ApiKey.Heartbeat, ApiKey.OffsetFetch, ApiKey.OffsetCommit]) connection.require(api);
    this.#coordinator = await this.#client.coordinator(this.groupId);
    return this.#coordinator;
  }

  /** Leader's job: read every member's subscription and assign with the range assignor. */
  async #assign(members: readonly { memberId: string; metadata: Buffer }[]): Promise<{ memberId: string; assignment: Buffer }[]> {
    const subscriptions = new Map<string, string[]>();
    for (const member of members) subscriptions.set(member.memberId, decodeSubscription(member.metadata, this.#topics));
    const topics = [...new Set([...subscriptions.values()].flat())].sort();
    const metadata = await this.#client.metadata(topics);
    const counts = new Map(topics.map((topic) => [topic, metadata.topics.find((t) => t.name === topic)?.partitions.length ?? 0]));
    const assigned = rangeAssign(subscriptions, counts);
    return [...assigned].map(([memberId, byTopic]) => ({ memberId, assignment: encodeAssignment(byTopic) }));
  }
}

/** Kafka's range assignor: per topic, members sorted by id take consecutive runs, the first ones one extra. */
export function rangeAssign(subscriptions: ReadonlyMap<string, readonly string[]>, partitionCounts: ReadonlyMap<string, number>): Map<string, Map<string, number[]>> {
  const assigned = new Map<string, Map<string, number[]>>([...subscriptions.keys()].map((id) => [id, new Map()]));
  for (const [topic, partitionCount] of [...partitionCounts].sort(([a], [b]) => a.localeCompare(b))) {
    const subscribers = [...subscriptions].filter(([, subscribed]) => subscribed.includes(topic)).map(([id]) => id).sort();
    if (subscribers.length === 0) continue;
    const each = Math.floor(partitionCount / subscribers.length);
    const extra = partitionCount % subscribers.length;
    let next = 0;
    subscribers.forEach((id, i) => {
      const count = each + (i < extra ? 1 : 0);
      assigned.get(id)!.set(topic, Array.from({ length: count }, (_, k) => next + k));
      next += count;
    });
  }
  return assigned;
}

export function encodeSubscription(topics: readonly string[]): Buffer {
  return encodeConsumerData(DATA_SCHEMAS.ConsumerProtocolSubscription, { topics: [...topics], userData: null });
}

export function encodeAssignment(byTopic: ReadonlyMap<string, readonly number[]>): Buffer {
  return encodeConsumerData(DATA_SCHEMAS.ConsumerProtocolAssignment, {
    assignedPartitions: [...byTopic].map(([topic, partitions]) => ({ topic, partitions: [...partitions] })),
    userData: null,
  });
}

function encodeConsumerData<T>(schema: (typeof DATA_SCHEMAS)[keyof typeof DATA_SCHEMAS], value: Partial<T>): Buffer {
  const version = Buffer.alloc(2);
  version.writeInt16BE(CONSUMER_PROTOCOL_VERSION, 0);
  return Buffer.concat([version, ...encodeData<T>(schema, CONSUMER_PROTOCOL_VERSION, value as never)]);
}

/** Reads a version-prefixed consumer structure; a newer version is read as the newest this codec knows. */
function decodeConsumerData<T>(schema: (typeof DATA_SCHEMAS)[keyof typeof DATA_SCHEMAS], bytes: Buffer, maxVersion: number): T {
  const version = Math.min(bytes.readInt16BE(0), maxVersion);
  return decodeData<T>(schema, version, bytes, 2);
}

export function decodeSubscription(bytes: Buffer, fallback: readonly string[]): string[] {
  try {
    return decodeConsumerData<ConsumerProtocolSubscription>(DATA_SCHEMAS.ConsumerProtocolSubscription, bytes, 3).topics;
  } catch {
    // A member whose metadata this CLI cannot read is given the CLI's own topics rather than nothing.
    return [...fallback];
  }
}

export function decodeAssignment(bytes: Buffer): Map<string, number[]> {
  if (bytes.length < 2) return new Map();
  const assignment = decodeConsumerData<ConsumerProtocolAssignment>(DATA_SCHEMAS.ConsumerProtocolAssignment, bytes, 3);
  return new Map(assignment.assignedPartitions.map((a) => [a.topic, a.partitions]));
}
