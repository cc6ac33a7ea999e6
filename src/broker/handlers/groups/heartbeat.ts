import { ApiKey } from '../../../protocol/api-keys.ts';
import { ErrorCode } from '../../../protocol/error-codes.ts';
import { defineApi } from '../../api-handler.ts';
import { allowed, Op, Resource } from '../authorize.ts';

/** Heartbeat 0–4: keeps a member's session alive; REBALANCE_IN_PROGRESS tells it to rejoin. */
export const heartbeatApi = defineApi({
  apiKey: ApiKey.Heartbeat,
  name: 'Heartbeat',
  minVersion: 0,
  maxVersion: 4,
  async handle(request, context) {
    if (!allowed(context, Op.READ, Resource.GROUP, request.groupId)) return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED };
    const errorCode = await context.services.groups.heartbeat(
      request.groupId,
      { memberId: request.memberId, groupInstanceId: context.apiVersion >= 3 ? request.groupInstanceId : null },
      request.generationId,
    );
    return { throttleTimeMs: 0, errorCode };
  },
  errorResponse(_request, errorCode) {
    return { throttleTimeMs: 0, errorCode };
  },
});
