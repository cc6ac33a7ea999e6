/**
 * GET /api/v1/topics and /api/v1/topics/:name. Topics the caller may not DESCRIBE are left out of the
 * list and are 404 by name (as Metadata hides them; the name is not confirmed to exist). Records and
 * sizes come from the committed partition state the read path keeps (log start, high watermark, entries).
 */
import { TOPIC_CONFIGS, topicConfigNumber, type TopicConfigName } from '../services/cluster/index.ts';
import { isInternalTopic } from '../services/cluster/index.ts';
import type { TopicRecord } from '../services/cluster/index.ts';
import { Op, Resource, type ConsoleAccess } from './console-access.ts';
import type { ConsoleDeps } from './console-deps.ts';
import { ConsoleError } from './console-error.ts';
import { groupsVisibleTo } from './groups-view.ts';

/** Partition summaries read at once, so a list of thousands of topics does not queue unbounded loads. */
const SUMMARY_CONCURRENCY = 64;

export async function listTopics(deps: ConsoleDeps, access: ConsoleAccess): Promise<unknown> {
  const topics = deps.services.topics.list().filter((t) => access.can(Op.DESCRIBE, Resource.TOPIC, t.name));
  const rows = await mapLimited(topics, SUMMARY_CONCURRENCY, async (topic) => {
    let records = 0;
    let sizeBytes = 0;
    for (let p = 0; p < topic.partitions; p++) {
      const s = await deps.services.logs.summary(topic.id, p);
      records += s.highWatermark - s.logStartOffset;
      sizeBytes += s.sizeBytes;
    }
    const retentionMs = topicConfigNumber(topic.configs, 'retention.ms');
    return {
      name: topic.name,
      partitions: topic.partitions,
      internal: isInternalTopic(topic.name),
      records,
      sizeBytes,
      retentionMs: retentionMs < 0 ? null : retentionMs,
      bytesInPerSec: deps.history.topicBytesInPerSec(topic.name),
    };
  });
  return { topics: rows };
}

/** The topic, or 404 when it does not exist or the caller may not DESCRIBE it. */
export function visibleTopic(deps: ConsoleDeps, access: ConsoleAccess, name: string): TopicRecord {
  const topic = deps.services.topics.get(name);
  if (topic === undefined || !access.can(Op.DESCRIBE, Resource.TOPIC, name)) {
    throw new ConsoleError(404, `topic '${name}' does not exist`, 'UNKNOWN_TOPIC_OR_PARTITION');
  }
  return topic;
}

export async function describeTopic(deps: ConsoleDeps, access: ConsoleAccess, name: string): Promise<unknown> {
  const topic = visibleTopic(deps, access, name);
  const { services } = deps;
  const partitions = [];
  for (let p = 0; p < topic.partitions; p++) {
    const s = await services.logs.summary(topic.id, p);
    const leader = services.leaders.leaderOf(topic.id, p);
    partitions.push({
      partition: p,
      leader: leader.brokerId < 0 ? null : leader.brokerId,
      leaderEpoch: leader.epoch >= 0 ? leader.epoch : s.leaderEpoch,
      logStartOffset: s.logStartOffset,
      highWatermark: s.highWatermark,
      sizeBytes: s.sizeBytes,
    });
  }
  return {
    name: topic.name,
    topicId: topic.id,
    internal: isInternalTopic(topic.name),
    createdMs: topic.createdMs,
    partitions,
    configs: access.can(Op.DESCRIBE_CONFIGS, Resource.TOPIC, name) ? topicConfigs(topic) : [],
    configsVisible: access.can(Op.DESCRIBE_CONFIGS, Resource.TOPIC, name),
    consumers: await consumersOf(deps, access, topic),
  };
}

export function topicConfigs(topic: TopicRecord): { name: string; value: string | null; isDefault: boolean; readOnly: boolean; sensitive: boolean }[] {
  return (Object.keys(TOPIC_CONFIGS) as TopicConfigName[]).map((name) => {
    const override = topic.configs[name];
    return { name, value: override ?? TOPIC_CONFIGS[name].defaultValue, isDefault: override === undefined, readOnly: false, sensitive: false };
  });
}

/** Groups with committed offsets on the topic, with their total lag on it. */
async function consumersOf(deps: ConsoleDeps, access: ConsoleAccess, topic: TopicRecord): Promise<{ groupId: string; lag: number }[]> {
  const consumers: { groupId: string; lag: number }[] = [];
  const ends = new Map<number, number>();
  for (const group of await groupsVisibleTo(deps, access)) {
    const offsets = (await deps.services.groups.storedOffsets(group.groupId)).filter((o) => o.topic === topic.name && o.offset >= 0n && o.partition < topic.partitions);
    if (offsets.length === 0) continue;
    let lag = 0;
    for (const o of offsets) {
      let end = ends.get(o.partition);
      if (end === undefined) ends.set(o.partition, (end = (await deps.services.logs.offsets(topic.id, o.partition)).highWatermark));
      lag += Math.max(0, end - Number(o.offset));
    }
    consumers.push({ groupId: group.groupId, lag });
  }
  return consumers;
}

async function mapLimited<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
