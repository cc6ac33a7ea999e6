import { ApiKey } from '../../../protocol/api-keys.ts';
import { ErrorCode } from '../../../protocol/error-codes.ts';
import { defineApi } from '../../api-handler.ts';
import { allowed, authorizedOperations, Op, Resource } from '../authorize.ts';
import { AUTHORIZED_OPERATIONS_OMITTED } from '../../../protocol/sentinel-values.ts';

/** ConsumerGroupDescribe 0 (KIP-848): epochs, assignor, every member's assignment and target. */
export const consumerGroupDescribeApi = defineApi({
  apiKey: ApiKey.ConsumerGroupDescribe,
  name: 'ConsumerGroupDescribe',
  minVersion: 0,
  maxVersion: 0,
  async handle(request, context) {
    const { topics, groups } = context.services;
    const described = await Promise.all(
      request.groupIds.map(async (groupId) => {
        if (!allowed(context, Op.DESCRIBE, Resource.GROUP, groupId)) return failed(groupId, ErrorCode.GROUP_AUTHORIZATION_FAILED);
        const g = await groups.describeConsumerGroup(groupId, (id) => topics.getById(id)?.name);
        const named = (list: { topicId: string; partitions: number[] }[]) => ({ topicPartitions: list.map((t) => ({ topicId: t.topicId, topicName: g.topicName(t.topicId), partitions: t.partitions })) });
        return {
          errorCode: g.errorCode,
          errorMessage: g.errorMessage,
          groupId,
          groupState: g.groupState,
          groupEpoch: g.groupEpoch,
          assignmentEpoch: g.assignmentEpoch,
          assignorName: g.assignorName,
          members: g.members.map((m) => ({ ...m, assignment: named(m.assignment), targetAssignment: named(m.targetAssignment) })),
          authorizedOperations: request.includeAuthorizedOperations && g.errorCode === ErrorCode.NONE ? authorizedOperations(context, Resource.GROUP, groupId) : AUTHORIZED_OPERATIONS_OMITTED,
        };
      }),
    );
    return { throttleTimeMs: 0, groups: described };
  },
  errorResponse(request, errorCode) {
    return { throttleTimeMs: 0, groups: request.groupIds.map((groupId) => failed(groupId, errorCode)) };
  },
});

function failed(groupId: string, errorCode: number) {
  return { errorCode, errorMessage: null, groupId, groupState: '', groupEpoch: -1, assignmentEpoch: -1, assignorName: '', members: [], authorizedOperations: AUTHORIZED_OPERATIONS_OMITTED };
}
