import { ApiKey } from '../../../protocol/api-keys.ts';
import { defineApi } from '../../api-handler.ts';
import { AUTHORIZED_OPERATIONS_OMITTED } from '../metadata.ts';

/** Without ACLs every group operation is allowed: READ(3), DELETE(6), DESCRIBE(8) as Kafka's bit set. */
const GROUP_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8);

/** DescribeGroups 0–5: state, protocol and members (metadata and assignment only while Stable, as Kafka). */
export const describeGroupsApi = defineApi({
  apiKey: ApiKey.DescribeGroups,
  name: 'DescribeGroups',
  minVersion: 0,
  maxVersion: 5,
  async handle(request, context) {
    const operations = request.includeAuthorizedOperations ? GROUP_OPERATIONS : AUTHORIZED_OPERATIONS_OMITTED;
    const groups = await Promise.all(request.groups.map((groupId) => context.services.groups.describe(groupId)));
    return {
      throttleTimeMs: 0,
      groups: groups.map((g) => ({
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
        authorizedOperations: operations,
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
