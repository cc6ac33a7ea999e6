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
 *   naming several groups are split by coordinator; ListGroups asks every broker and merges
 *   (group-router.ts);
 * - to any broker: topic, config, ACL, SCRAM and producer-id administration.
 *
 * Anything the router cannot answer (a malformed request, a broker failure it cannot hide) throws;
 * the client connection then closes, which every client treats as a retriable network error.
 */
import { ApiKey } from '../protocol/api-keys.ts';
import { codecVersionRange, decodeRequest, decodeResponse, encodeResponse } from '../protocol/codec/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { ApiVersionsResponse, MetadataResponse } from '../protocol/messages/index.ts';
import { KafscaleError } from '../telemetry/kafscale-error.ts';
import type { BrokerLink, ClientRequest } from './broker-link.ts';
import type { ClusterView } from './cluster-view.ts';
import { GROUP_API_KEYS, GroupRouter } from './group-router.ts';
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
  ...LOCAL, ...REWRITTEN, ...PARTITIONED.keys(), ...GROUP_API_KEYS, ...ANY_BROKER_WRITES, ...ANY_BROKER_READS,
].sort((a, b) => a - b);
const ROUTED: ReadonlySet<number> = new Set(ROUTED_API_KEYS);
const GROUPS: ReadonlySet<number> = new Set(GROUP_API_KEYS);

const API_VERSIONS_MAX = 4;

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
  readonly #groups: GroupRouter;

  constructor(view: ClusterView, pool: UpstreamPool, link: BrokerLink, partitioned: PartitionedForwarder, identity: ProxyIdentity, options: ProxyRouterOptions) {
    this.#view = view;
    this.#pool = pool;
    this.#link = link;
    this.#partitioned = partitioned;
    this.#identity = identity;
    this.#options = options;
    this.#groups = new GroupRouter(view, pool, link, options);
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
    if (GROUPS.has(apiKey)) return this.#groups.handle(req);
    switch (apiKey) {
      case ApiKey.FindCoordinator:
        return this.#findCoordinator(req);
      case ApiKey.Metadata:
      case ApiKey.DescribeCluster:
      case ApiKey.DescribeTopicPartitions:
        return this.#rewritten(req);
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

}
