import { ApiKey } from '../../protocol/api-keys.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { defineApi } from '../api-handler.ts';
import { allowed, Op, Resource } from './authorize.ts';

/** CreatePartitions: increase only; assignments only have to match the number of new partitions. */
export const createPartitionsApi = defineApi({
  apiKey: ApiKey.CreatePartitions,
  name: 'CreatePartitions',
  minVersion: 0,
  maxVersion: 3,
  async handle(request, context) {
    const { topics } = context.services;
    const counts = new Map<string, number>();
    for (const t of request.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
    const results = [];
    for (const wanted of request.topics) {
      if ((counts.get(wanted.name) ?? 0) > 1) {
        results.push({ name: wanted.name, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Duplicate topic name ${wanted.name} in the request.` });
        continue;
      }
      if (!allowed(context, Op.ALTER, Resource.TOPIC, wanted.name)) {
        results.push({ name: wanted.name, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: `Not authorized to ALTER topic '${wanted.name}'.` });
        continue;
      }
      const current = topics.get(wanted.name);
      if (current !== undefined && wanted.assignments !== null && wanted.assignments.length !== wanted.count - current.partitions) {
        results.push({
          name: wanted.name,
          errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
          errorMessage: `Increasing the number of partitions by ${wanted.count - current.partitions} but ${wanted.assignments.length} assignments provided.`,
        });
        continue;
      }
      const outcome = await topics.createPartitions(wanted.name, wanted.count, { validateOnly: request.validateOnly });
      results.push({ name: wanted.name, errorCode: outcome.errorCode, errorMessage: outcome.errorMessage });
    }
    return { throttleTimeMs: 0, results };
  },
  errorResponse(request, errorCode, errorMessage) {
    return { throttleTimeMs: 0, results: request.topics.map((t) => ({ name: t.name, errorCode, errorMessage })) };
  },
});
