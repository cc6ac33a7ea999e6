import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { KafscaleError } from '../../errors/kafscale-error.ts';
import type { MetadataStore, TxnOp } from '../../storage/meta/metadata-store.ts';
import { MetaKeys } from './meta-keys.ts';
import { collisionKey, hasCollisionCharacters, isInternalTopic, topicNameProblem } from './topic-name.ts';
import { isTopicConfigName, TOPIC_CONFIGS, topicConfigProblem } from './topic-configs.ts';
import { WatchedPrefix, type PrefixChange } from './watched-prefix.ts';

/** One incarnation of a topic. A re-created topic gets a new id and never sees the old one's data. */
export interface TopicRecord {
  readonly name: string;
  /** Random UUID, 8-4-4-4-12 lowercase hex. */
  readonly id: string;
  readonly partitions: number;
  /** Per-topic overrides only; defaults come from TOPIC_CONFIGS. */
  readonly configs: Readonly<Record<string, string>>;
  readonly createdMs: number;
}

export interface AdminOutcome {
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

export interface CreateTopicOutcome extends AdminOutcome {
  readonly topic: TopicRecord | null;
}

export type ConfigAlteration =
  | { readonly op: 'set'; readonly name: string; readonly value: string | null }
  | { readonly op: 'delete'; readonly name: string }
  | { readonly op: 'append'; readonly name: string; readonly value: string | null }
  | { readonly op: 'subtract'; readonly name: string; readonly value: string | null };

export interface TopicChange {
  readonly name: string;
  readonly before: TopicRecord | null;
  readonly after: TopicRecord | null;
}

/** Kafka's limit on partitions per topic is effectively the int32 range; ours keeps metadata bounded. */
export const MAX_PARTITIONS_PER_TOPIC = 10_000;

const OK: AdminOutcome = { errorCode: ErrorCode.NONE, errorMessage: null };

function fail(errorCode: number, errorMessage: string): AdminOutcome {
  return { errorCode, errorMessage };
}

/**
 * Topics, their ids, partition counts and config overrides — kept in the metadata store and mirrored in
 * memory on every broker through a watch. Every mutation is a compare-and-swap on the topic key's
 * mod revision, so concurrent admin requests on different brokers cannot lose each other's updates.
 * Outcomes that Kafka reports as error codes are returned as values; store faults throw.
 */
export class TopicRegistry {
  readonly #store: MetadataStore;
  readonly #log: Logger;
  #topics!: WatchedPrefix;
  readonly #byName = new Map<string, TopicRecord>();
  readonly #byId = new Map<string, TopicRecord>();
  readonly #listeners = new Set<(changes: readonly TopicChange[]) => void>();

  private constructor(store: MetadataStore, log: Logger) {
    this.#store = store;
    this.#log = log;
  }

  static async open(store: MetadataStore, log: Logger): Promise<TopicRegistry> {
    const registry = new TopicRegistry(store, log);
    registry.#topics = await WatchedPrefix.open(store, MetaKeys.topicsPrefix, log, (changes) => registry.#onChanges(changes));
    return registry;
  }

  get(name: string): TopicRecord | undefined {
    return this.#byName.get(name);
  }

  getById(id: string): TopicRecord | undefined {
    return this.#byId.get(id);
  }

  /** All topics, sorted by name. */
  list(): TopicRecord[] {
    return [...this.#byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Called with every batch of topic changes seen by this broker (local writes and watch events). */
  onChange(listener: (changes: readonly TopicChange[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Checks a creation request without writing anything (also used for validateOnly). */
  validateCreate(name: string, partitions: number, configs: Readonly<Record<string, string | null>>): AdminOutcome {
    const nameProblem = topicNameProblem(name);
    if (nameProblem !== null) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, nameProblem);
    if (isInternalTopic(name)) return fail(ErrorCode.INVALID_REQUEST, `Topic ${name} is reserved for internal use`);
    if (this.#byName.has(name)) return fail(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${name}' already exists.`);
    if (hasCollisionCharacters(name)) {
      const key = collisionKey(name);
      for (const existing of this.#byName.keys()) {
        if (collisionKey(existing) === key) {
          return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, `Topic '${name}' collides with existing topic: ${existing}`);
        }
      }
    }
    if (!Number.isInteger(partitions) || partitions <= 0) {
      return fail(ErrorCode.INVALID_PARTITIONS, `Number of partitions must be larger than 0 (got ${partitions}).`);
    }
    if (partitions > MAX_PARTITIONS_PER_TOPIC) {
      return fail(ErrorCode.INVALID_PARTITIONS, `Number of partitions ${partitions} exceeds the limit of ${MAX_PARTITIONS_PER_TOPIC} per topic.`);
    }
    for (const [configName, value] of Object.entries(configs)) {
      const problem = topicConfigProblem(configName, value);
      if (problem !== null) return fail(ErrorCode.INVALID_CONFIG, problem);
    }
    return OK;
  }

  async create(
    name: string,
    partitions: number,
    configs: Readonly<Record<string, string | null>>,
    options: { readonly validateOnly?: boolean } = {},
  ): Promise<CreateTopicOutcome> {
    const outcome = this.validateCreate(name, partitions, configs);
    if (outcome.errorCode !== ErrorCode.NONE) return { ...outcome, topic: null };
    const topic: TopicRecord = {
      name,
      id: randomUUID(),
      partitions,
      configs: Object.fromEntries(Object.entries(configs).filter((entry): entry is [string, string] => entry[1] !== null)),
      createdMs: Date.now(),
    };
    if (options.validateOnly === true) return { ...OK, topic };
    const key = MetaKeys.topic(name);
    const value = encodeTopic(topic);
    const result = await this.#store.txn({
      compare: [{ key, target: 'createRevision', op: '==', value: 0 }],
      success: [
        { type: 'put', key, value },
        { type: 'put', key: MetaKeys.topicId(topic.id), value: Buffer.from(name) },
      ],
    });
    if (!result.succeeded) return { ...fail(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${name}' already exists.`), topic: null };
    this.#applyLocalPut(key, value, result.revision, 1);
    if (hasCollisionCharacters(name)) {
      this.#log.warn({ topic: name }, "topic name contains '.' or '_'; such names collide in metric names, use one or the other");
    }
    this.#log.info({ topic: name, topicId: topic.id, partitions }, 'topic created');
    return { ...OK, topic };
  }

  async delete(name: string): Promise<AdminOutcome & { readonly topic: TopicRecord | null }> {
    const topic = this.#byName.get(name);
    const kv = this.#topics.get(MetaKeys.topic(name));
    if (topic === undefined || kv === undefined) {
      return { ...fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${name}' does not exist.`), topic: null };
    }
    const key = MetaKeys.topic(name);
    const success: TxnOp[] = [
      { type: 'delete', key },
      { type: 'delete', key: MetaKeys.topicId(topic.id) },
      // The storage engine collects the deleted incarnation's partition state and objects from this marker.
      { type: 'put', key: MetaKeys.deletedTopic(topic.id), value: Buffer.from(JSON.stringify({ name, id: topic.id, deletedMs: Date.now() })) },
    ];
    const result = await this.#store.txn({ compare: [{ key, target: 'modRevision', op: '==', value: kv.modRevision }], success });
    if (!result.succeeded) {
      // Changed under us (another broker altered or deleted it): report the current truth.
      const current = await this.#store.get(key);
      if (current === null) return { ...fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${name}' does not exist.`), topic: null };
      this.#topics.applyLocal(key, current, current.modRevision);
      return this.delete(name);
    }
    this.#topics.applyLocal(key, null, result.revision);
    this.#log.info({ topic: name, topicId: topic.id }, 'topic deleted');
    return { ...OK, topic };
  }

  async createPartitions(name: string, totalCount: number, options: { readonly validateOnly?: boolean } = {}): Promise<AdminOutcome> {
    const topic = this.#byName.get(name);
    const kv = this.#topics.get(MetaKeys.topic(name));
    if (topic === undefined || kv === undefined) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${name}' does not exist.`);
    if (!Number.isInteger(totalCount) || totalCount < topic.partitions) {
      return fail(ErrorCode.INVALID_PARTITIONS, `Topic currently has ${topic.partitions} partitions, which is higher than the requested ${totalCount}.`);
    }
    if (totalCount === topic.partitions) {
      return fail(ErrorCode.INVALID_PARTITIONS, `Topic already has ${topic.partitions} partitions.`);
    }
    if (totalCount > MAX_PARTITIONS_PER_TOPIC) {
      return fail(ErrorCode.INVALID_PARTITIONS, `Number of partitions ${totalCount} exceeds the limit of ${MAX_PARTITIONS_PER_TOPIC} per topic.`);
    }
    if (options.validateOnly === true) return OK;
    return this.#update(name, kv.modRevision, { ...topic, partitions: totalCount }, () => this.createPartitions(name, totalCount, options));
  }

  /**
   * AlterConfigs (incremental = false: the given set replaces every override) and
   * IncrementalAlterConfigs (set / delete / append / subtract per config).
   */
  async alterConfigs(
    name: string,
    alterations: readonly ConfigAlteration[],
    options: { readonly incremental: boolean; readonly validateOnly?: boolean },
  ): Promise<AdminOutcome> {
    const topic = this.#byName.get(name);
    const kv = this.#topics.get(MetaKeys.topic(name));
    if (topic === undefined || kv === undefined) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${name}' does not exist.`);
    const next: Record<string, string> = options.incremental ? { ...topic.configs } : {};
    const seen = new Set<string>();
    for (const alteration of alterations) {
      if (seen.has(alteration.name)) return fail(ErrorCode.INVALID_REQUEST, `Config ${alteration.name} appears more than once in the request.`);
      seen.add(alteration.name);
      if (!isTopicConfigName(alteration.name)) return fail(ErrorCode.INVALID_CONFIG, `Unknown topic config name: ${alteration.name}`);
      const def = TOPIC_CONFIGS[alteration.name];
      if (alteration.op === 'delete') {
        delete next[alteration.name];
        continue;
      }
      let value = alteration.value;
      if (alteration.op === 'append' || alteration.op === 'subtract') {
        if (def.type !== 'list') return fail(ErrorCode.INVALID_CONFIG, `Config ${alteration.name} is not a list; APPEND and SUBTRACT apply to list configs only.`);
        const current = (next[alteration.name] ?? def.defaultValue).split(',').map((s) => s.trim()).filter((s) => s !== '');
        const items = (value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
        const merged = alteration.op === 'append' ? [...current, ...items.filter((i) => !current.includes(i))] : current.filter((c) => !items.includes(c));
        value = merged.join(',');
      }
      const problem = topicConfigProblem(alteration.name, value);
      if (problem !== null) return fail(ErrorCode.INVALID_CONFIG, problem);
      if (value !== null) next[alteration.name] = value;
    }
    if (options.validateOnly === true) return OK;
    return this.#update(name, kv.modRevision, { ...topic, configs: next }, () => this.alterConfigs(name, alterations, options));
  }

  async close(): Promise<void> {
    await this.#topics.close();
  }

  async #update(name: string, modRevision: number, topic: TopicRecord, retry: () => Promise<AdminOutcome>): Promise<AdminOutcome> {
    const key = MetaKeys.topic(name);
    const value = encodeTopic(topic);
    const result = await this.#store.txn({
      compare: [{ key, target: 'modRevision', op: '==', value: modRevision }],
      success: [{ type: 'put', key, value }],
      failure: [{ type: 'get', key }],
    });
    if (!result.succeeded) {
      const current = result.results[0];
      if (current === null || current === undefined) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${name}' does not exist.`);
      // Someone else changed the topic first: catch up and apply our change on top of theirs.
      if (typeof current === 'object' && !Array.isArray(current)) this.#topics.applyLocal(key, current, current.modRevision);
      return retry();
    }
    const previous = this.#topics.get(key);
    this.#applyLocalPut(key, value, result.revision, (previous?.version ?? 0) + 1, previous?.createRevision);
    return OK;
  }

  #applyLocalPut(key: string, value: Buffer, revision: number, version: number, createRevision = revision): void {
    this.#topics.applyLocal(key, { key, value, createRevision, modRevision: revision, version, lease: null }, revision);
  }

  #onChanges(changes: readonly PrefixChange[]): void {
    const topicChanges: TopicChange[] = [];
    for (const change of changes) {
      const name = change.key.slice(MetaKeys.topicsPrefix.length);
      const before = this.#byName.get(name) ?? null;
      let after: TopicRecord | null = null;
      if (change.kv !== null) {
        try {
          after = decodeTopic(change.kv.value);
        } catch (error) {
          this.#log.error({ err: error, key: change.key }, 'unreadable topic record in the metadata store; ignoring it');
          continue;
        }
      }
      if (before !== null) this.#byId.delete(before.id);
      if (after === null) {
        this.#byName.delete(name);
      } else {
        this.#byName.set(name, after);
        this.#byId.set(after.id, after);
      }
      topicChanges.push({ name, before, after });
    }
    if (topicChanges.length === 0) return;
    for (const listener of this.#listeners) listener(topicChanges);
  }
}

function encodeTopic(topic: TopicRecord): Buffer {
  return Buffer.from(JSON.stringify(topic));
}

function decodeTopic(value: Buffer): TopicRecord {
  const parsed = JSON.parse(value.toString('utf8')) as TopicRecord;
  if (typeof parsed.name !== 'string' || typeof parsed.id !== 'string' || !Number.isInteger(parsed.partitions)) {
    throw new KafscaleError('KSC_META_CORRUPT', `a stored topic record is missing its name, id or partition count: ${value.toString('utf8').slice(0, 200)}`);
  }
  return parsed;
}
