/**
 * The proxy's picture of the cluster: live brokers, and for every partition its owner (leader) and
 * leader epoch, from Metadata answers of the brokers. It is a cache, nothing more — the proxy keeps no
 * state a second proxy would need — refreshed periodically, after every ownership error a broker
 * reports, and from every Metadata answer the proxy forwards for its clients.
 *
 * Refreshes are single-flight: `refresh(after)` resolves with a view fetched after the given time, so a
 * burst of NOT_LEADER_OR_FOLLOWER answers costs one Metadata request, not one each.
 */
import { ApiKey } from '../protocol/api-keys.ts';
import type { MetadataResponse } from '../protocol/messages/index.ts';
import { KafscaleError } from '../telemetry/kafscale-error.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { UpstreamPool } from './upstream-pool.ts';

export interface BrokerAddress {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
  readonly address: string;
}

export interface PartitionOwner {
  /** host:port of the owning broker, or null when the partition has no live owner right now. */
  readonly address: string | null;
  readonly leaderEpoch: number;
}

interface TopicView {
  readonly name: string;
  readonly topicId: string;
  /** Index = partition. */
  readonly owners: PartitionOwner[];
}

export interface ClusterViewOptions {
  readonly bootstrap: readonly { readonly host: string; readonly port: number }[];
  readonly refreshIntervalMs: number;
  readonly requestTimeoutMs: number;
  readonly clientId: string;
}

/** Metadata v12: topic ids, no cluster-authorized-operations bits; kafscale brokers serve 0–12. */
const METADATA_VERSION = 12;
const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

export class ClusterView {
  readonly #pool: UpstreamPool;
  readonly #options: ClusterViewOptions;
  readonly #log: Logger;
  #brokers: BrokerAddress[] = [];
  readonly #topics = new Map<string, TopicView>();
  readonly #topicNamesById = new Map<string, string>();
  #clusterId: string | null = null;
  #nextBroker = 0;
  /** Start time of the last refresh that succeeded (0: never). */
  #refreshedAt = 0;
  #inFlight: { readonly startedAt: number; readonly done: Promise<void> } | null = null;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  onRefresh: ((outcome: 'ok' | 'error') => void) | null = null;

  constructor(pool: UpstreamPool, options: ClusterViewOptions, log: Logger) {
    this.#pool = pool;
    this.#options = options;
    this.#log = log;
  }

  /** First refresh (errors are logged, not thrown: brokers may start after the proxy), then periodic ones. */
  async start(): Promise<void> {
    await this.refresh(0).catch((error: unknown) => this.#log.warn({ err: error }, 'no broker answered Metadata yet; the proxy keeps trying'));
    this.#schedule();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
  }

  get clusterId(): string | null {
    return this.#clusterId;
  }

  /** Milliseconds since the last successful refresh started; Infinity before the first. */
  get ageMs(): number {
    return this.#refreshedAt === 0 ? Number.POSITIVE_INFINITY : Date.now() - this.#refreshedAt;
  }

  get brokers(): readonly BrokerAddress[] {
    return this.#brokers;
  }

  topicName(topicId: string): string | null {
    return this.#topicNamesById.get(topicId) ?? null;
  }

  ownerOf(topic: string, partition: number): PartitionOwner | null {
    return this.#topics.get(topic)?.owners[partition] ?? null;
  }

  /** A live broker, round robin over the known ones; a bootstrap address before the first metadata. */
  anyBroker(exclude?: ReadonlySet<string>): { host: string; port: number; address: string } {
    const candidates = this.#brokers.length > 0 ? this.#brokers : this.#bootstrapAddresses();
    for (let i = 0; i < candidates.length; i++) {
      const candidate = candidates[(this.#nextBroker++ & 0x7fffffff) % candidates.length];
      if (candidate !== undefined && exclude?.has(candidate.address) !== true) return candidate;
    }
    const fallback = this.#bootstrapAddresses().find((b) => exclude?.has(b.address) !== true) ?? candidates[0];
    if (fallback === undefined) throw new KafscaleError('KSC_PROXY_NO_BROKER', 'the proxy knows no broker: set KAFSCALE_PROXY_BOOTSTRAP');
    return fallback;
  }

  /** Resolves once a refresh that started at or after `after` (ms since epoch) has completed. */
  refresh(after: number): Promise<void> {
    if (this.#refreshedAt >= after && this.#refreshedAt > 0) return Promise.resolve();
    const current = this.#inFlight;
    if (current !== null && current.startedAt >= after) return current.done;
    const startedAt = Date.now();
    const done = (current === null ? Promise.resolve() : current.done.catch(() => {}))
      .then(() => (this.#refreshedAt >= after && this.#refreshedAt > 0 ? undefined : this.#refreshNow(startedAt)))
      .finally(() => {
        if (this.#inFlight?.done === done) this.#inFlight = null;
      });
    this.#inFlight = { startedAt, done };
    return done;
  }

  /** Takes in a Metadata answer the proxy forwarded for a client (a subset of topics, or none). */
  absorb(response: MetadataResponse): void {
    if (response.brokers.length > 0) this.#setBrokers(response);
    for (const topic of response.topics) this.#setTopic(topic);
  }

  #bootstrapAddresses(): { host: string; port: number; address: string }[] {
    return this.#options.bootstrap.map((b) => ({ host: b.host, port: b.port, address: `${b.host}:${b.port}` }));
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.refresh(Date.now())
        .catch((error: unknown) => this.#log.warn({ err: error }, 'periodic metadata refresh failed'))
        .finally(() => this.#schedule());
    }, this.#options.refreshIntervalMs);
    this.#timer.unref();
  }

  async #refreshNow(startedAt: number): Promise<void> {
    const tried = new Set<string>();
    const candidates = [...this.#brokers, ...this.#bootstrapAddresses()];
    // Start after the last broker used, so one dead broker does not cost every refresh a timeout.
    const offset = this.#nextBroker++ % Math.max(1, this.#brokers.length);
    const ordered = [...candidates.slice(offset), ...candidates.slice(0, offset)];
    let lastError: unknown = new KafscaleError('KSC_PROXY_NO_BROKER', 'no broker address is known: set KAFSCALE_PROXY_BOOTSTRAP');
    for (const candidate of ordered) {
      if (tried.has(candidate.address)) continue;
      tried.add(candidate.address);
      try {
        const connection = await this.#pool.broker(candidate.host, candidate.port).shared();
        const response = await connection.request(
          ApiKey.Metadata,
          METADATA_VERSION,
          this.#options.clientId,
          { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false },
          this.#options.requestTimeoutMs,
        );
        this.#replace(response);
        this.#refreshedAt = startedAt;
        this.onRefresh?.('ok');
        return;
      } catch (error) {
        lastError = error;
      }
    }
    this.onRefresh?.('error');
    throw new KafscaleError('KSC_PROXY_NO_BROKER', `no broker answered Metadata (tried ${[...tried].join(', ')}): ${(lastError as Error).message}`, {
      cause: lastError,
      retriable: true,
    });
  }

  #replace(response: MetadataResponse): void {
    this.#setBrokers(response);
    const seen = new Set<string>();
    for (const topic of response.topics) {
      if (topic.name !== null) seen.add(topic.name);
      this.#setTopic(topic);
    }
    for (const [name, topic] of this.#topics) {
      if (!seen.has(name)) {
        this.#topics.delete(name);
        this.#topicNamesById.delete(topic.topicId);
      }
    }
    const addresses = new Set(this.#brokers.map((b) => b.address));
    for (const b of this.#bootstrapAddresses()) addresses.add(b.address);
    this.#pool.retain(addresses);
  }

  #setBrokers(response: MetadataResponse): void {
    this.#clusterId = response.clusterId;
    this.#brokers = response.brokers
      .map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, address: `${b.host}:${b.port}` }))
      .sort((a, b) => a.nodeId - b.nodeId);
  }

  #setTopic(topic: MetadataResponse['topics'][number]): void {
    if (topic.name === null || topic.errorCode !== 0) return;
    const byId = new Map(this.#brokers.map((b) => [b.nodeId, b.address]));
    const owners: PartitionOwner[] = [];
    for (const p of topic.partitions) {
      owners[p.partitionIndex] = { address: p.leaderId >= 0 ? (byId.get(p.leaderId) ?? null) : null, leaderEpoch: p.leaderEpoch };
    }
    const previous = this.#topics.get(topic.name);
    // Metadata below v10 carries no topic id; keep the one we know.
    const topicId = topic.topicId === ZERO_UUID && previous !== undefined ? previous.topicId : topic.topicId;
    if (previous !== undefined && previous.topicId !== topicId) this.#topicNamesById.delete(previous.topicId);
    this.#topics.set(topic.name, { name: topic.name, topicId, owners });
    if (topicId !== ZERO_UUID) this.#topicNamesById.set(topicId, topic.name);
  }
}
