import { ApiKey } from '../../../protocol/api-keys.ts';
import { defineApi } from '../../api-handler.ts';

/** DeleteGroups 0–2: an Empty group and all its offsets go; NON_EMPTY_GROUP while members remain. */
export const deleteGroupsApi = defineApi({
  apiKey: ApiKey.DeleteGroups,
  name: 'DeleteGroups',
  minVersion: 0,
  maxVersion: 2,
  async handle(request, context) {
    const results = [];
    for (const groupId of request.groupsNames) results.push({ groupId, errorCode: await context.services.groups.deleteGroup(groupId) });
    return { throttleTimeMs: 0, results };
  },
  errorResponse(request, errorCode) {
    return { throttleTimeMs: 0, results: request.groupsNames.map((groupId) => ({ groupId, errorCode })) };
  },
});
