import { ApiKey } from '../../../protocol/api-keys.ts';
import { ErrorCode } from '../../../protocol/error-codes.ts';
import { defineApi } from '../../api-handler.ts';
import { allowed, Op, Resource } from '../authorize.ts';

/**
 * LeaveGroup 0–5. v0–2 name one member; v3+ a batch (KIP-345: static members leave by instance id).
 * Before v3 the member's own error is the response's error, as Kafka's LeaveGroupResponse does it.
 */
export const leaveGroupApi = defineApi({
  apiKey: ApiKey.LeaveGroup,
  name: 'LeaveGroup',
  minVersion: 0,
  maxVersion: 5,
  async handle(request, context) {
    if (!allowed(context, Op.READ, Resource.GROUP, request.groupId)) return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, members: [] };
    const batch = context.apiVersion >= 3;
    const leaving = batch ? request.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId })) : [{ memberId: request.memberId, groupInstanceId: null }];
    const result = await context.services.groups.leave(request.groupId, leaving);
    if (!batch) {
      const own = result.members[0] ?? ErrorCode.NONE;
      return { throttleTimeMs: 0, errorCode: result.errorCode !== ErrorCode.NONE ? result.errorCode : own, members: [] };
    }
    if (result.errorCode !== ErrorCode.NONE) return { throttleTimeMs: 0, errorCode: result.errorCode, members: [] };
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      members: leaving.map((m, i) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode: result.members[i] ?? ErrorCode.NONE })),
    };
  },
  errorResponse(_request, errorCode) {
    return { throttleTimeMs: 0, errorCode, members: [] };
  },
});
