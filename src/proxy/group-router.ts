/**
 * The group APIs through the proxy: each goes to its group's coordinator, found with FindCoordinator on a
 * broker and cached; the APIs naming several groups are split by coordinator and the answers
 * concatenated; ListGroups asks every broker and merges. A moved coordinator (NOT_COORDINATOR,
 * COORDINATOR_NOT_AVAILABLE) or a lost connection is retried once.
 */
import { ApiKey } from '../protocol/api-keys.ts';
import { decodeRequest, decodeResponse, encodeResponse } from '../protocol/codec/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { ListGroupsResponse } from '../protocol/messages/index.ts';
import { isKafscaleError, KafscaleError } from '../telemetry/kafscale-error.ts';
import type { BrokerLink, ClientRequest } from './broker-link.ts';
import type { ClusterView } from './cluster-view.ts';
import { isUpstreamFailure } from './upstream-connection.ts';
import type { UpstreamPool } from './upstream-pool.ts';

type Struct = Record<string, unknown>;

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

/** Every API the group router serves. */
export const GROUP_API_KEYS: readonly number[] = [...GROUP_APIS, ...MULTI_GROUP.keys(), ApiKey.ListGroups];

const COORDINATOR_MOVED: ReadonlySet<number> = new Set([ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_NOT_AVAILABLE]);
const FIND_COORDINATOR_VERSION = 3;
const GROUP_KEY_TYPE = 0;
/** Bound on remembered group → coordinator entries (a cache; forgetting one costs one FindCoordinator). */
const MAX_COORDINATORS_CACHED = 10_000;

export interface GroupRouterOptions {
  readonly requestTimeoutMs: number;
  readonly clientId: string;
  readonly onRetry: (reason: 'connection' | 'coordinator') => void;
}

export class GroupRouter {
  readonly #view: ClusterView;
  readonly #pool: UpstreamPool;
  readonly #link: BrokerLink;
  readonly #options: GroupRouterOptions;
  readonly #coordinators = new Map<string, string>();

  constructor(view: ClusterView, pool: UpstreamPool, link: BrokerLink, options: GroupRouterOptions) {
    this.#view = view;
    this.#pool = pool;
    this.#link = link;
    this.#options = options;
  }

  /** Response chunks for a request of one of GROUP_API_KEYS. */
  async handle(req: ClientRequest): Promise<Buffer[]> {
    const apiKey = req.apiKey;
    if (GROUP_APIS.has(apiKey)) {
      const request = decodeRequest(apiKey as 8, req.apiVersion, req.frame, req.bodyOffset) as unknown as Struct;
      return this.#toCoordinator(req, String(request['groupId']));
    }
    const multi = MULTI_GROUP.get(apiKey);
    if (multi !== undefined) return this.#multiGroup(req, multi);
    if (apiKey === ApiKey.ListGroups) return this.#listGroups(req);
    throw new KafscaleError('KSC_PROTOCOL_UNSUPPORTED_VERSION', `the proxy does not route API ${apiKey} to a group coordinator`);
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
