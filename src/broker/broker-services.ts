import type { Logger } from 'pino';
import type { ConnectionContext } from './dispatch.ts';
import type { FetchSessionCache } from './fetch-session-cache.ts';
import type { BrokerRegistry, PartitionLeaders, TopicRegistry } from '../services/cluster/index.ts';
import type { GroupCoordinator } from '../services/groups/index.ts';
import type { LogService, PartitionAssigner } from '../services/log/index.ts';
import type { ProducerIdManager } from '../services/producers/index.ts';
import type { AclStore, Authorizer, SecurityServices } from '../services/security/index.ts';

/** Broker settings the handlers need, in domain terms (the app maps the validated config onto this). */
export interface BrokerSettings {
  readonly brokerId: number;
  readonly autoCreateTopics: boolean;
  readonly defaultPartitions: number;
  readonly socketRequestMaxBytes: number;
  /** Static broker configs reported by DescribeConfigs, Kafka names → values. */
  readonly describedBrokerConfigs: Readonly<Record<string, string>>;
}

/** Everything a handler may use; built once by the app. */
export interface BrokerServices {
  readonly settings: BrokerSettings;
  readonly clusterId: string;
  readonly topics: TopicRegistry;
  readonly brokers: BrokerRegistry;
  readonly leaders: PartitionLeaders;
  /** The storage engine: write path on owned partitions, read path on any. */
  readonly logs: LogService;
  /** Which partitions this broker owns; Produce asks it to acquire a partition on first use. */
  readonly assigner: PartitionAssigner;
  /** Consumer groups and committed offsets (classic protocol) of the groups this broker coordinates. */
  readonly groups: GroupCoordinator;
  /** Incremental fetch sessions (KIP-227) of this broker; bounded, in memory. */
  readonly fetchSessions: FetchSessionCache;
  /** Producer ids and epochs for InitProducerId (idempotent producers). */
  readonly producerIds: ProducerIdManager;
  /** Authorization decisions (ALLOW_ALL unless `KAFSCALE_AUTHORIZER=acl`). */
  readonly authorizer: Authorizer;
  /** The ACL bindings for CreateAcls/DescribeAcls/DeleteAcls; null without the ACL authorizer (SECURITY_DISABLED). */
  readonly acls: AclStore | null;
  /** SASL authentication and SCRAM credentials. */
  readonly security: SecurityServices;
}

export interface RequestContext {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;
  /** The client's address (DescribeGroups reports it as the member's host); set by dispatch when known. */
  readonly remoteAddress?: string;
  /** 'User:ANONYMOUS' or the authenticated principal ('User:alice'), copied from the connection. */
  readonly principal: string;
  /** The listener the request arrived on; Metadata, FindCoordinator etc. answer with its addresses. */
  readonly listenerName: string;
  /** The connection itself: only the SASL handlers change it (principal, SASL state). */
  readonly connection?: ConnectionContext;
  readonly log: Logger;
  readonly signal: AbortSignal;
  readonly services: BrokerServices;
}
