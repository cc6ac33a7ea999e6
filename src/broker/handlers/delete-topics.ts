import { ApiKey } from '../../protocol/api-keys.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { DeleteTopicsResponse } from '../../protocol/messages/index.ts';
import { defineApi } from '../api-handler.ts';
import { allowed, Op, Resource } from './authorize.ts';
import { ZERO_UUID } from '../../protocol/sentinel-values.ts';

type Result = DeleteTopicsResponse['responses'][number];

/** DeleteTopics by name (v0–5; v0 has no throttle time) or by name or id (v6+). */
export const deleteTopicsApi = defineApi({
  apiKey: ApiKey.DeleteTopics,
  name: 'DeleteTopics',
  minVersion: 0,
  maxVersion: 6,
  async handle(request, context) {
    const { topics } = context.services;
    const wanted = context.apiVersion >= 6
      ? request.topics.map((t) => ({ name: t.name, topicId: t.topicId }))
      : request.topicNames.map((name) => ({ name: name as string | null, topicId: ZERO_UUID }));
    const responses: Result[] = [];
    for (const item of wanted) {
      const hasName = item.name !== null && item.name !== '';
      const hasId = item.topicId !== ZERO_UUID;
      if (hasName && hasId) {
        responses.push(result(item.name, item.topicId, ErrorCode.INVALID_REQUEST, 'Topic name and topic id cannot both be set.'));
        continue;
      }
      if (!hasName && !hasId) {
        responses.push(result(item.name, item.topicId, ErrorCode.INVALID_REQUEST, 'Either a topic name or a topic id is required.'));
        continue;
      }
      let name = item.name;
      if (!hasName) {
        const byId = topics.getById(item.topicId);
        if (byId === undefined) {
          responses.push(result(null, item.topicId, ErrorCode.UNKNOWN_TOPIC_ID, `Topic id ${item.topicId} does not exist.`));
          continue;
        }
        // Kafka: by id, DESCRIBE first so that a name is never revealed to someone who may not see it.
        if (!allowed(context, Op.DESCRIBE, Resource.TOPIC, byId.name)) {
          responses.push(result(null, item.topicId, ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'Not authorized to DESCRIBE this topic.'));
          continue;
        }
        name = byId.name;
      }
      if (!allowed(context, Op.DELETE, Resource.TOPIC, name as string)) {
        responses.push(result(hasName ? name : null, item.topicId, ErrorCode.TOPIC_AUTHORIZATION_FAILED, `Not authorized to DELETE topic '${name}'.`));
        continue;
      }
      const outcome = await topics.delete(name as string);
      responses.push(result(name, outcome.topic?.id ?? item.topicId, outcome.errorCode, outcome.errorMessage));
    }
    return { throttleTimeMs: 0, responses };
  },
  errorResponse(request, errorCode, errorMessage, context) {
    const items = context.apiVersion >= 6
      ? request.topics.map((t) => result(t.name, t.topicId, errorCode, errorMessage))
      : request.topicNames.map((name) => result(name, ZERO_UUID, errorCode, errorMessage));
    return { throttleTimeMs: 0, responses: items };
  },
});

function result(name: string | null, topicId: string, errorCode: number, errorMessage: string | null): Result {
  return { name, topicId, errorCode, errorMessage };
}
