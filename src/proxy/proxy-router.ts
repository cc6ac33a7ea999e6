/**
 * What the proxy does with each API (docs/design/proxy.md has the table):
 *
 * - answered by the proxy itself: ApiVersions (what every broker and the proxy can serve);
 * - forwarded and rewritten so that the proxy is the only broker: Metadata, DescribeCluster,
 *   DescribeTopicPartitions (leader ids become the proxy's, leader epochs stay the real ones),
 *   FindCoordinator (a broker checks it as the client; the coordinator becomes a virtual broker);
 * - by partition owner, split and merged: Produce, Fetch, ListOffsets, OffsetForLeaderEpoch,
 *   DeleteRecords (partitioned-forwarder.ts);
 * - to the group's coordinator (asked with FindCoordinator from a broker): the group APIs; the ones
 *   naming several groups are split by coordinator; ListGroups asks every broker and merges;
 * - to any broker: topic, config, ACL, SCRAM and producer-id administration.
 *
 * Anything the router cannot answer (a malformed request, a broker failure it cannot hide) throws;
 * the client connection then closes, which every client treats as a retriable network error.
 */
import { ApiKey } from '../protocol/api-keys.ts';
import { codecVersionRange, decodeRequest, decodeResponse, encodeResponse } from '../protocol/codec/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { ApiVersionsResponse, ListGroupsResponse, MetadataResponse } from '../protocol/messages/index.ts';
import { isKafscaleError, KafscaleError } from '../telemetry/kafscale-error.ts';
import type { BrokerLink, ClientRequest } from './broker-link.ts';
import type { ClusterView } from './cluster-view.ts';
import { DELETE_RECORDS_SHAPE, FETCH_SHAPE, LIST_OFFSETS_SHAPE, OFFSET_FOR_LEADER_EPOCH_SHAPE, PRODUCE_SHAPE, type PartitionedShape } from './partition-split.ts';
import type { PartitionedForwarder } from './partitioned-forwarder.ts';
import { PROXY_NODE_ID, type ProxyIdentity } from './proxy-identity.ts';
import { SASL_AUTHENTICATE_VERSIONS, SASL_HANDSHAKE_VERSIONS } from './sasl-relay.ts';
import { isUpstreamFailure } from './upstream-connection.ts';
import type { ApiRange, UpstreamPool } from './upstream-pool.ts';

type Struct = Record<string, unknown>;

const PARTITIONED: ReadonlyMap<number, PartitionedShape> = new Map([
  [ApiKey.Produce, PRODUCE_SHAPE],
  [ApiKey.Fetch, FETCH_SHAPE],
  [ApiKey.ListOffsets, LIST_OFFSETS_SHAPE],
  [ApiKey.OffsetForLeaderEpoch, OFFSET_FOR_LEADER_EPOCH_SHAPE],
  [ApiKey.DeleteRecords, DELETE_RECORDS_SHAPE],
]);

/** APIs about one group (its `groupId` field); JoinGroup and SyncGroup may be held for a rebalance. */
const GROUP_APIS: ReadonlySet<number> = new Set([
  ApiKey.OffsetCommit, ApiKey.JoinGroup, ApiKey.Heartbeat, ApiKey.LeaveGroup, ApiKey.SyncGroup, ApiKey.OffsetDelete, ApiKey.ConsumerGroupHeartbeat,
]);
const HELD_BY_BROKER: ReadonlySet<number> = new Set([ApiKey.JoinGroup, ApiKey.SyncGroup]);

/** APIs naming several groups: the request's list field, the response's list field (entries have groupId). */
interface MultiGroupSpec {
  readonly requestField: string;
  readonly responseField: string;
  /** The first version that carries the list (OffsetFetch v8+); below it the API is a single-group one. */
  readonly fromVersion: number;
}
const MULTI_GROUP: ReadonlyMap<number, MultiGroupSpec> = new Map([
  [ApiKey.OffsetFetch, { requestField: 'groups', responseField: 'groups', fromVersion: 8 }],
  [ApiKey.DescribeGroups, { requestField: 'groups', responseField: 'groups', fromVersion: 0 }],
  [ApiKey.DeleteGroups, { requestField: 'groupsNames', responseField: 'results', fromVersion: 0 }],
  [ApiKey.ConsumerGroupDescribe, { requestField: 'groupIds', responseField: 'groups', fromVersion: 0 }],
]);

/** Administration any broker answers; the read-only ones are safe to send again after a lost connection. */
const ANY_BROKER_WRITES: ReadonlySet<number> = new Set([
  ApiKey.CreateTopics, ApiKey.DeleteTopics, ApiKey.CreatePartitions, ApiKey.AlterConfigs, ApiKey.IncrementalAlterConfigs,
  ApiKey.InitProducerId, ApiKey.CreateAcls, ApiKey.DeleteAcls, ApiKey.AlterUserScramCredentials,
]);
const ANY_BROKER_READS: ReadonlySet<number> = new Set([
  ApiKey.DescribeConfigs, ApiKey.DescribeProducers, ApiKey.DescribeAcls, ApiKey.DescribeUserScramCredentials,
]);

const LOCAL: ReadonlySet<number> = new Set([ApiKey.ApiVersions]);
const REWRITTEN: ReadonlySet<number> = new Set([ApiKey.Metadata, ApiKey.DescribeCluster, ApiKey.DescribeTopicPartitions, ApiKey.FindCoordinator]);

/** Every API the proxy routes to brokers. SASL requests are the client connection's own (sasl-relay.ts). */
export const ROUTED_API_KEYS: readonly number[] = [
  ...LOCAL, ...REWRITTEN, ...PARTITIONED.keys(), ...GROUP_APIS, ...MULTI_GROUP.keys(), ApiKey.ListGroups, ...ANY_BROKER_WRITES, ...ANY_BROKER_READS,
].sort((a, b) => a - b);
const ROUTED: ReadonlySet<number> = new Set(ROUTED_API_KEYS);

const COORDINATOR_MOVED: ReadonlySet<number> = new Set([ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_NOT_AVAILABLE]);
const API_VERSIONS_MAX = 4;
const FIND_COORDINATOR_VERSION = 3;
const GROUP_KEY_TYPE = 0;
/** Bound on remembered group → coordinator entries (a cache; forgetting one costs one FindCoordinator). */
const MAX_COORDINATORS_CACHED = 10_000;

export interface ProxyRouterOptions {
  readonly requestTimeoutMs: number;
  readonly clientId: string;
  readonly onRetry: (reason: 'moved' | 'connection' | 'coordinator') => void;
  /** The client listener runs SASL (sasl-relay.ts): ApiVersions offers SaslHandshake v1 and SaslAuthenticate. */
  readonly sasl?: boolean;
}

export class ProxyRouter {
  readonly #view: ClusterView;
  readonly #pool: UpstreamPool;
  readonly #link: BrokerLink;
  readonly #partitioned: PartitionedForwarder;
  readonly #identity: ProxyIdentity;
  readonly #options: ProxyRouterOptions;
  readonly #coordinators = new Map<string, string>();

  constructor(view: ClusterView, pool: UpstreamPool, link: BrokerLink, partitioned: PartitionedForwarder, identity: ProxyIdentity, options: ProxyRouterOptions) {
    this.#view = view;
    this.#pool = pool;
    this.#link = link;
    this.#partitioned = partitioned;
    this.#identity = identity;
    this.#options = options;
  }

  /**
   * The versions the proxy advertises: for every routed API, the range the codec and every broker seen
   * so far share (during a rolling upgrade, the older broker's range).
   */
  supportedApis(brokerRanges: readonly (readonly ApiRange[])[] = this.#pool.apiRanges()): ApiRange[] {
    const supported: ApiRange[] = [];
    for (const apiKey of ROUTED_API_KEYS) {
      const codec = codecVersionRange(apiKey);
      if (codec === null) continue;
      let min = codec.min;
      let max = codec.max;
      if (apiKey === ApiKey.ApiVersions) max = Math.min(max, API_VERSIONS_MAX);
      for (const ranges of brokerRanges) {
        const broker = ranges.find((r) => r.apiKey === apiKey);
        if (broker === undefined) {
          max = -1;
          break;
        }
        min = Math.max(min, broker.minVersion);
        max = Math.min(max, broker.maxVersion);
      }
      if (max >= min) supported.push({ apiKey, minVersion: min, maxVersion: max });
    }
    if (this.#options.sasl === true) {
      supported.push({ apiKey: ApiKey.SaslHandshake, ...SASL_HANDSHAKE_VERSIONS }, { apiKey: ApiKey.SaslAuthenticate, ...SASL_AUTHENTICATE_VERSIONS });
      supported.sort((a, b) => a.apiKey - b.apiKey);
    }
    return supported;
  }

  /** True when the proxy routes this API; other requests close the connection, as Kafka does. */
  routes(apiKey: number): boolean {
    return ROUTED.has(apiKey);
  }

  /** Response chunks (header + body, no size prefix), or null when no response is due. */
  async handle(req: ClientRequest): Promise<Buffer[] | null> {
    const apiKey = req.apiKey;
    if (apiKey === ApiKey.ApiVersions) return this.#apiVersions(req);
    const shape = PARTITIONED.get(apiKey);
    if (shape !== undefined) return this.#partitioned.handle(shape, req);
    if (GROUP_APIS.has(apiKey)) {
      const request = decodeRequest(apiKey as 8, req.apiVersion, req.frame, req.bodyOffset) as unknown as Struct;
      return this.#toCoordinator(req, String(request['groupId']));
    }
    const multi = MULTI_GROUP.get(apiKey);
    if (multi !== undefined) return this.#multiGroup(req, multi);
    switch (apiKey) {
      case ApiKey.FindCoordinator:
        return this.#findCoordinator(req);
      case ApiKey.Metadata:
      case ApiKey.DescribeCluster:
      case ApiKey.DescribeTopicPartitions:
        return this.#rewritten(req);
      case ApiKey.ListGroups:
        return this.#listGroups(req);
      default:
        if (ANY_BROKER_WRITES.has(apiKey) || ANY_BROKER_READS.has(apiKey)) return [await this.#toAnyBroker(req, ANY_BROKER_READS.has(apiKey))];
        throw new KafscaleError('KSC_PROTOCOL_UNSUPPORTED_VERSION', `the proxy does not route API ${apiKey}`);
    }
  }

  async #apiVersions(req: ClientRequest): Promise<Buffer[]> {
    if (this.#pool.apiRanges().length === 0) await this.#view.refresh(0).catch(() => {});
    if (this.#pool.apiRanges().length === 0) {
      throw new KafscaleError('KSC_PROXY_NO_BROKER', 'no broker has answered the proxy yet, so it cannot tell which versions it serves');
    }
    const supported = req.apiVersion <= API_VERSIONS_MAX && req.bodyOffset >= 0;
    const body: ApiVersionsResponse = {
      errorCode: supported ? ErrorCode.NONE : ErrorCode.UNSUPPORTED_VERSION,
      apiKeys: this.supportedApis(),
      throttleTimeMs: 0,
      supportedFeatures: [],
      finalizedFeaturesEpoch: -1n,
      finalizedFeatures: [],
      zkMigrationReady: false,
    };
    // KIP-511: a version the proxy does not know is answered in v0, which every client can read.
    return encodeResponse(ApiKey.ApiVersions, supported ? req.apiVersion : 0, req.correlationId, body);
  }

  /**
   * Every group's coordinator is a virtual broker chosen by the key's hash. A broker answers first, as
   * the client (in an Envelope when principals are forwarded), so that its checks apply exactly as on a
   * direct connection — DESCRIBE on the group (GROUP_AUTHORIZATION_FAILED), supported key types — and
   * only its successful answers are re-pointed at the virtual coordinator.
   */
  async #findCoordinator(req: ClientRequest): Promise<Buffer[]> {
    const request = decodeRequest(ApiKey.FindCoordinator, req.apiVersion, req.frame, req.bodyOffset);
    const frame = await this.#toAnyBrokerFrame(req, true);
    const body = decodeResponse(ApiKey.FindCoordinator, req.apiVersion, frame).body;
    const identity = this.#identity;
    const coordinators = body.coordinators.map((c) => (c.errorCode === ErrorCode.NONE ? { ...c, ...identity.broker(identity.coordinatorOf(c.key)) } : c));
    const single = req.apiVersion < 4 && body.errorCode === ErrorCode.NONE ? identity.broker(identity.coordinatorOf(request.key)) : {};
    return encodeResponse(ApiKey.FindCoordinator, req.apiVersion, req.correlationId, { ...body, ...single, coordinators });
  }

  /**
   * Metadata, DescribeCluster, DescribeTopicPartitions: a broker answers; the brokers become the proxy's
   * virtual brokers and every partition is led by its virtual broker (proxy-identity.ts), leader epochs
   * stay the real ones.
   */
  async #rewritten(req: ClientRequest): Promise<Buffer[]> {
    const frame = await this.#toAnyBrokerFrame(req, true);
    const apiKey = req.apiKey as 3;
    const body = decodeResponse(apiKey, req.apiVersion, frame).body as unknown as Struct;
    if (req.apiKey === ApiKey.Metadata) this.#view.absorb(body as unknown as MetadataResponse);
    const identity = this.#identity;
    const topics = body['topics'] as Struct[] | undefined;
    if (topics !== undefined) {
      body['topics'] = topics.map((t) => {
        const name = typeof t['name'] === 'string' ? t['name'] : (typeof t['topicId'] === 'string' ? this.#view.topicName(t['topicId']) : null) ?? '';
        const asLeader = (partition: Struct): Struct => {
          const leaderId = (partition['leaderId'] as number) >= 0 ? identity.leaderOf(name, partition['partitionIndex'] as number) : -1;
          const nodes = leaderId >= 0 ? [leaderId] : [];
          return { ...partition, leaderId, replicaNodes: nodes, isrNodes: nodes, offlineReplicas: [] };
        };
        return { ...t, partitions: ((t['partitions'] as Struct[] | undefined) ?? []).map(asLeader) };
      });
    }
    if (req.apiKey === ApiKey.Metadata) {
      body['brokers'] = identity.brokers().map((b) => ({ ...b, rack: null }));
      body['controllerId'] = PROXY_NODE_ID;
    } else if (req.apiKey === ApiKey.DescribeCluster) {
      body['brokers'] = identity.brokers().map((b) => ({ brokerId: b.nodeId, host: b.host, port: b.port, rack: null }));
      body['controllerId'] = PROXY_NODE_ID;
    }
    return encodeResponse(apiKey, req.apiVersion, req.correlationId, body as never);
  }

  async #toAnyBroker(req: ClientRequest, repeatable: boolean): Promise<Buffer> {
    const frame = await this.#toAnyBrokerFrame(req, repeatable);
    frame.writeInt32BE(req.correlationId, 0);
    return frame;
  }

  /** Forwards to a live broker; a second broker is tried when the first cannot be reached (or, for reads, dies). */
  async #toAnyBrokerFrame(req: ClientRequest, repeatable: boolean): Promise<Buffer> {
    const tried = new Set<string>();
    for (let attempt = 0; ; attempt++) {
      const broker = this.#view.anyBroker(tried);
      tried.add(broker.address);
      try {
        return await this.#link.forward(broker.address, req, this.#options.requestTimeoutMs, false);
      } catch (error) {
        if (!isUpstreamFailure(error) || attempt >= 1 || (error.written && !repeatable)) throw error;
        this.#options.onRetry('connection');
        await this.#view.refresh(Date.now()).catch(() => {});
      }
    }
  }

  async #coordinatorOf(groupId: string, fresh: boolean): Promise<string> {
    if (!fresh) {
      const cached = this.#coordinators.get(groupId);
      if (cached !== undefined) return cached;
    }
    this.#coordinators.delete(groupId);
    const tried = new Set<string>();
    for (let attempt = 0; attempt < 2; attempt++) {
      const broker = this.#view.anyBroker(tried);
      tried.add(broker.address);
      try {
        const connection = await this.#pool.broker(broker.host, broker.port).shared();
        const found = await connection.request(
          ApiKey.FindCoordinator, FIND_COORDINATOR_VERSION, this.#options.clientId, { key: groupId, keyType: GROUP_KEY_TYPE }, this.#options.requestTimeoutMs,
        );
        // No coordinator right now: send the request to this broker, whose answer (a coordinator error) the client understands.
        if (found.errorCode !== ErrorCode.NONE || found.nodeId < 0) return broker.address;
        const address = `${found.host}:${found.port}`;
        if (this.#coordinators.size >= MAX_COORDINATORS_CACHED) this.#coordinators.clear();
        this.#coordinators.set(groupId, address);
        return address;
      } catch (error) {
        if (!isUpstreamFailure(error)) throw error;
      }
    }
    throw new KafscaleError('KSC_PROXY_NO_BROKER', `no broker answered FindCoordinator for group ${groupId}`, { retriable: true });
  }

  /** A single-group request to its coordinator; a moved coordinator or lost connection is retried once. */
  async #toCoordinator(req: ClientRequest, groupId: string): Promise<Buffer[]> {
    const exclusive = HELD_BY_BROKER.has(req.apiKey);
    const timeoutMs = this.#options.requestTimeoutMs + (exclusive ? this.#rebalanceWaitMs(req) : 0);
    for (let attempt = 0; ; attempt++) {
      const address = await this.#coordinatorOf(groupId, attempt > 0);
      try {
        const frame = await this.#link.forward(address, req, timeoutMs, exclusive);
        const body = decodeResponse(req.apiKey as 8, req.apiVersion, frame).body;
        if (attempt === 0 && hasErrorCode(body, COORDINATOR_MOVED)) {
          this.#options.onRetry('coordinator');
          continue;
        }
        frame.writeInt32BE(req.correlationId, 0);
        return [frame];
      } catch (error) {
        // Group requests are safe to repeat: commits carry absolute offsets, joins and heartbeats are idempotent per member.
        if (!isUpstreamFailure(error) || attempt >= 1) throw error;
        this.#options.onRetry('connection');
        await this.#view.refresh(Date.now()).catch(() => {});
      }
    }
  }

  /** JoinGroup may be held for the rebalance timeout, SyncGroup for the session timeout. */
  #rebalanceWaitMs(req: ClientRequest): number {
    if (req.apiKey !== ApiKey.JoinGroup) return 60_000;
    const request = decodeRequest(ApiKey.JoinGroup, req.apiVersion, req.frame, req.bodyOffset);
    return Math.max(request.rebalanceTimeoutMs, request.sessionTimeoutMs, 0);
  }

  /** DescribeGroups, DeleteGroups, OffsetFetch v8+, ConsumerGroupDescribe: split by coordinator, merged. */
  async #multiGroup(req: ClientRequest, spec: MultiGroupSpec): Promise<Buffer[]> {
    const apiKey = req.apiKey as 15;
    const request = decodeRequest(apiKey, req.apiVersion, req.frame, req.bodyOffset) as unknown as Struct;
    if (req.apiVersion < spec.fromVersion) return this.#toCoordinator(req, String(request['groupId']));
    const items = (request[spec.requestField] as unknown[] | undefined) ?? [];
    const groupOf = (item: unknown): string => (typeof item === 'string' ? item : String((item as Struct)['groupId']));
    const results: Struct[] = [];
    let throttleTimeMs = 0;
    let base: Struct | null = null;
    let pending = items;
    for (let attempt = 0; attempt < 2 && pending.length > 0; attempt++) {
      const byCoordinator = new Map<string, unknown[]>();
      for (const item of pending) {
        const address = await this.#coordinatorOf(groupOf(item), attempt > 0);
        const list = byCoordinator.get(address);
        if (list === undefined) byCoordinator.set(address, [item]);
        else list.push(item);
      }
      const answers = await Promise.all(
        [...byCoordinator].map(async ([address, subset]) => {
          const frame = await this.#link.send(address, apiKey, req, { ...request, [spec.requestField]: subset } as never, this.#options.requestTimeoutMs, false);
          return decodeResponse(apiKey, req.apiVersion, frame).body as unknown as Struct;
        }),
      );
      const retry = new Set<string>();
      for (const answer of answers) {
        base ??= answer;
        throttleTimeMs = Math.max(throttleTimeMs, (answer['throttleTimeMs'] as number | undefined) ?? 0);
        for (const entry of (answer[spec.responseField] as Struct[] | undefined) ?? []) {
          if (attempt === 0 && hasErrorCode(entry, COORDINATOR_MOVED)) retry.add(String(entry['groupId']));
          else results.push(entry);
        }
      }
      if (retry.size > 0) this.#options.onRetry('coordinator');
      pending = pending.filter((item) => retry.has(groupOf(item)));
    }
    const merged = { ...(base ?? {}), throttleTimeMs, [spec.responseField]: results };
    return encodeResponse(apiKey, req.apiVersion, req.correlationId, merged as never);
  }

  /** ListGroups: each broker lists the groups it coordinates; the proxy asks all and merges. */
  async #listGroups(req: ClientRequest): Promise<Buffer[]> {
    const request = decodeRequest(ApiKey.ListGroups, req.apiVersion, req.frame, req.bodyOffset);
    const brokers = this.#view.brokers.length > 0 ? this.#view.brokers : [this.#view.anyBroker()];
    const answers = await Promise.all(
      brokers.map(async (broker) => {
        try {
          const frame = await this.#link.send(broker.address, ApiKey.ListGroups, req, request, this.#options.requestTimeoutMs, false);
          return decodeResponse(ApiKey.ListGroups, req.apiVersion, frame).body;
        } catch (error) {
          if (isUpstreamFailure(error) || isKafscaleError(error, 'KSC_PROXY_NO_BROKER')) return null;
          throw error;
        }
      }),
    );
    const groups = new Map<string, ListGroupsResponse['groups'][number]>();
    let errorCode: number = ErrorCode.NONE;
    let answered = 0;
    for (const answer of answers) {
      if (answer === null) continue;
      answered++;
      if (answer.errorCode !== ErrorCode.NONE && errorCode === ErrorCode.NONE) errorCode = answer.errorCode;
      for (const group of answer.groups) groups.set(group.groupId, group);
    }
    // A broker that could not be asked may coordinate groups the list would silently miss.
    if (answered < answers.length && errorCode === ErrorCode.NONE) errorCode = ErrorCode.COORDINATOR_NOT_AVAILABLE;
    return encodeResponse(ApiKey.ListGroups, req.apiVersion, req.correlationId, { throttleTimeMs: 0, errorCode, groups: [...groups.values()] });
  }
}

/** True when an errorCode field anywhere in a decoded group response is in `codes`. */
export function hasErrorCode(value: unknown, codes: ReadonlySet<number>): boolean {
  if (Array.isArray(value)) return value.some((item) => hasErrorCode(item, codes));
  if (typeof value !== 'object' || value === null || value instanceof Buffer) return false;
  for (const [key, field] of Object.entries(value as Struct)) {
    if (key === 'errorCode' && typeof field === 'number' && codes.has(field)) return true;
    if (typeof field === 'object' && field !== null && hasErrorCode(field, codes)) return true;
  }
  return false;
}
