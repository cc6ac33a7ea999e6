import { ApiKey } from '../../../protocol/api-keys.ts';
import { ErrorCode } from '../../../protocol/error-codes.ts';
import { defineApi } from '../../api-handler.ts';
import { allowed, authorizedOperations, Op, Resource } from '../authorize.ts';
import { AUTHORIZED_OPERATIONS_OMITTED } from '../../../protocol/sentinel-values.ts';

/** DescribeGroups 0–5: state, protocol and members (metadata and assignment only while Stable, as Kafka). */
export const describeGroupsApi = defineApi({
  apiKey: ApiKey.DescribeGroups,
  name: 'DescribeGroups',
  minVersion: 0,
  maxVersion: 5,
  async handle(request, context) {
    const groups = await Promise.all(request.groups.map((groupId) => (allowed(context, Op.DESCRIBE, Resource.GROUP, groupId) ? context.services.groups.describe(groupId) : Promise.resolve(null))));
    return {
      throttleTimeMs: 0,
      groups: groups.map((g, i) => g === null ? denied(request.groups[i] ?? '') : ({
        errorCode: g.errorCode,
        groupId: g.groupId,
        groupState: g.state,
        protocolType: g.protocolType,
        protocolData: g.protocolData,
        members: g.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata: m.metadata,
          memberAssignment: m.assignment,
        })),
        authorizedOperations: request.includeAuthorizedOperations ? authorizedOperations(context, Resource.GROUP, g.groupId) : AUTHORIZED_OPERATIONS_OMITTED,
      })),
    };
  },
  errorResponse(request, errorCode) {
    return {
      throttleTimeMs: 0,
      groups: request.groups.map((groupId) => ({ errorCode, groupId, groupState: '', protocolType: '', protocolData: '', members: [], authorizedOperations: AUTHORIZED_OPERATIONS_OMITTED })),
    };
  },
});

function denied(groupId: string) {
  return { errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, groupId, groupState: '', protocolType: '', protocolData: '', members: [], authorizedOperations: AUTHORIZED_OPERATIONS_OMITTED };
}
