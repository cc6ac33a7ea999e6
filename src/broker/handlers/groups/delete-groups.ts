import { ApiKey } from '../../../protocol/api-keys.ts';
import { ErrorCode } from '../../../protocol/error-codes.ts';
import { defineApi } from '../../api-handler.ts';
import { allowed, Op, Resource } from '../authorize.ts';

/** DeleteGroups 0–2: an Empty group and all its offsets go; NON_EMPTY_GROUP while members remain. */
export const deleteGroupsApi = defineApi({
  apiKey: ApiKey.DeleteGroups,
  name: 'DeleteGroups',
  minVersion: 0,
  maxVersion: 2,
  async handle(request, context) {
    const results = [];
    for (const groupId of request.groupsNames) {
      const errorCode = allowed(context, Op.DELETE, Resource.GROUP, groupId) ? await context.services.groups.deleteGroup(groupId) : ErrorCode.GROUP_AUTHORIZATION_FAILED;
      results.push({ groupId, errorCode });
    }
    return { throttleTimeMs: 0, results };
  },
  errorResponse(request, errorCode) {
    return { throttleTimeMs: 0, results: request.groupsNames.map((groupId) => ({ groupId, errorCode })) };
  },
});
