/**
 * The console's topic changes, through the same registry calls and validations as CreateTopics,
 * IncrementalAlterConfigs, CreatePartitions and DeleteTopics, with the same ACL checks (CREATE on the
 * cluster or the topic, ALTER_CONFIGS, ALTER, DELETE), so the console cannot do what Kafka's APIs refuse.
 */
import { ErrorCode } from '../protocol/error-codes.ts';
import type { ConfigAlteration } from '../services/cluster/index.ts';
import { Op, Resource, type ConsoleAccess } from './console-access.ts';
import type { ConsoleDeps } from './console-deps.ts';
import { ConsoleError, kafkaRefusal } from './console-error.ts';
import { field } from './console-http.ts';
import { topicConfigs, visibleTopic } from './topics-view.ts';

export async function createTopic(deps: ConsoleDeps, access: ConsoleAccess, body: Record<string, unknown>): Promise<{ name: string }> {
  const name = field.string(body, 'name');
  const partitions = field.optionalInteger(body, 'partitions', 1) ?? deps.services.settings.defaultPartitions;
  const configs = field.stringMap(body, 'configs');
  if (!access.canOnCluster(Op.CREATE)) access.require(Op.CREATE, Resource.TOPIC, name);
  const outcome = await deps.services.topics.create(name, partitions, configs);
  if (outcome.topic === null) throw kafkaRefusal(outcome.errorCode, outcome.errorMessage);
  deps.log.info({ topic: name, partitions, principal: access.caller.principal }, 'console created a topic');
  return { name };
}

export async function alterTopicConfigs(deps: ConsoleDeps, access: ConsoleAccess, name: string, body: Record<string, unknown>): Promise<unknown> {
  visibleTopic(deps, access, name);
  access.require(Op.ALTER_CONFIGS, Resource.TOPIC, name);
  const set = field.stringMap(body, 'set');
  const remove = body.delete ?? [];
  if (!Array.isArray(remove) || remove.some((k) => typeof k !== 'string')) throw new ConsoleError(400, '"delete" must be a list of config names');
  const alterations: ConfigAlteration[] = [
    ...Object.entries(set).map(([configName, value]) => ({ op: 'set' as const, name: configName, value })),
    ...(remove as string[]).map((configName) => ({ op: 'delete' as const, name: configName })),
  ];
  if (alterations.length === 0) throw new ConsoleError(400, 'nothing to change: give "set" and/or "delete"');
  const outcome = await deps.services.topics.alterConfigs(name, alterations, { incremental: true });
  if (outcome.errorCode !== ErrorCode.NONE) throw kafkaRefusal(outcome.errorCode, outcome.errorMessage);
  deps.log.info({ topic: name, set, delete: remove, principal: access.caller.principal }, 'console changed topic configs');
  const topic = deps.services.topics.get(name);
  return { configs: topic === undefined ? [] : topicConfigs(topic) };
}

export async function addPartitions(deps: ConsoleDeps, access: ConsoleAccess, name: string, body: Record<string, unknown>): Promise<unknown> {
  visibleTopic(deps, access, name);
  access.require(Op.ALTER, Resource.TOPIC, name);
  const count = field.integer(body, 'count', 1);
  const outcome = await deps.services.topics.createPartitions(name, count);
  if (outcome.errorCode !== ErrorCode.NONE) throw kafkaRefusal(outcome.errorCode, outcome.errorMessage);
  deps.log.info({ topic: name, partitions: count, principal: access.caller.principal }, 'console added partitions');
  return { name, partitions: count };
}

export async function deleteTopic(deps: ConsoleDeps, access: ConsoleAccess, name: string, confirm: string | null): Promise<void> {
  visibleTopic(deps, access, name);
  access.require(Op.DELETE, Resource.TOPIC, name);
  if (confirm !== name) throw new ConsoleError(400, `to delete topic '${name}' and all its data, pass confirm=${name} (got ${confirm === null ? 'none' : `'${confirm}'`})`);
  const outcome = await deps.services.topics.delete(name);
  if (outcome.errorCode !== ErrorCode.NONE) throw kafkaRefusal(outcome.errorCode, outcome.errorMessage);
  deps.log.warn({ topic: name, principal: access.caller.principal }, 'console deleted a topic');
}
