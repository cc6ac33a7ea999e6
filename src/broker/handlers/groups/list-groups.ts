import { ApiKey } from '../../../protocol/api-keys.ts';
import { ErrorCode } from '../../../protocol/error-codes.ts';
import { defineApi } from '../../api-handler.ts';
import { clusterVisible, Op, Resource, visible } from '../authorize.ts';

/**
 * ListGroups 0–5: the groups this broker coordinates (admin clients ask every broker and merge), with
 * the v4 state filter and v5 type filter ('classic' or 'consumer' for KIP-848 groups), both
 * case-insensitive as in Kafka. Empty groups that only
 * hold offsets are listed.
 */
export const listGroupsApi = defineApi({
  apiKey: ApiKey.ListGroups,
  name: 'ListGroups',
  minVersion: 0,
  maxVersion: 5,
  async handle(request, context) {
    const states = new Set((context.apiVersion >= 4 ? request.statesFilter : []).map((s) => s.toLowerCase()));
    const types = new Set((context.apiVersion >= 5 ? request.typesFilter : []).map((s) => s.toLowerCase()));
    let groups;
    try {
      groups = await context.services.groups.list();
    } catch (error) {
      context.log.warn({ err: error }, 'ListGroups could not read the metadata store');
      return { throttleTimeMs: 0, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, groups: [] };
    }
    // Kafka: DESCRIBE on the cluster lists every group; otherwise the groups the principal may DESCRIBE.
    const all = clusterVisible(context, Op.DESCRIBE);
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      groups: groups
        .filter((g) => all || visible(context, Op.DESCRIBE, Resource.GROUP, g.groupId))
        .filter((g) => (states.size === 0 || states.has(g.state.toLowerCase())) && (types.size === 0 || types.has(g.groupType)))
        .map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, groupState: g.state, groupType: g.groupType })),
    };
  },
  errorResponse(_request, errorCode) {
    return { throttleTimeMs: 0, errorCode, groups: [] };
  },
});
