import { ApiKey } from '../../../protocol/api-keys.ts';
import { defineApi } from '../../api-handler.ts';

/** SyncGroup 0–5: the leader's assignment is stored and handed out exactly as sent. */
export const syncGroupApi = defineApi({
  apiKey: ApiKey.SyncGroup,
  name: 'SyncGroup',
  minVersion: 0,
  maxVersion: 5,
  async handle(request, context) {
    const outcome = await context.services.groups.sync({
      groupId: request.groupId,
      generationId: request.generationId,
      memberId: request.memberId,
      groupInstanceId: context.apiVersion >= 3 ? request.groupInstanceId : null,
      protocolType: context.apiVersion >= 5 ? request.protocolType : null,
      protocolName: context.apiVersion >= 5 ? request.protocolName : null,
      assignments: request.assignments,
    });
    return { throttleTimeMs: 0, errorCode: outcome.errorCode, protocolType: outcome.protocolType, protocolName: outcome.protocolName, assignment: outcome.assignment };
  },
  errorResponse(_request, errorCode) {
    return { throttleTimeMs: 0, errorCode, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) };
  },
});
